"""The ready-made models: structure, parameter names and sharing between
variants (no compilation needed)."""
import pytest

from lasagne_lstm.layers import DropoutLayer, GRULayer, LSTMLayer, get_all_layers
from lasagne_lstm.training.models import LanguageModel, SequenceClassifier, build_model

LM = dict(task="lm", vocab_size=20, embedding=6, hidden=6, layers=2, cell="lstm",
          grad_clipping=5.0)


def test_language_model_stacks_layers_with_dropout_between():
    model = LanguageModel(dict(LM, dropout=0.3))
    layers = get_all_layers(model.l_out)
    recurrent = [l for l in layers if isinstance(l, LSTMLayer)]
    assert [l.name for l in recurrent] == ["lstm0", "lstm1"]
    assert sum(isinstance(l, DropoutLayer) for l in layers) == 3
    assert all(l.grad_clipping == 5.0 for l in recurrent)
    assert model.l_out.output_shape == (None, 20)
    # 2 LSTM layers × (4 gates × (W_in, W_hid, b) + 3 peepholes + 2 inits)
    names = list(model.params)
    assert names[0] == "embedding.W" and names[-2:] == ["output.W", "output.b"]
    assert len(names) == 1 + 2 * (12 + 3 + 2) + 2


def test_tied_embeddings_share_the_input_matrix():
    model = LanguageModel(dict(LM, tie_embeddings=True))
    assert "output.W" not in model.params
    assert model.params["embedding.W"].get_value().shape == (20, 6)
    with pytest.raises(ValueError, match="tie_embeddings"):
        LanguageModel(dict(LM, tie_embeddings=True, hidden=7))


def test_gru_variant_and_unmasked_variant_share_parameters():
    model = LanguageModel(dict(LM, cell="gru", layers=1))
    assert any(isinstance(l, GRULayer) for l in get_all_layers(model.l_out))
    assert "gru0.W_hid_to_resetgate" in model.params
    unmasked = model.variant(masked=False)
    assert unmasked.l_mask is None and unmasked is model.variant(masked=False)
    assert all(a is b for a, b in zip(model.params.values(), unmasked.params.values()))
    assert list(model.params) == list(unmasked.params)


def test_bidirectional_classifier():
    config = dict(task="classify", vocab_size=20, embedding=5, hidden=4, num_classes=3,
                  cell="lstm", bidirectional=True)
    model = build_model(config)
    assert isinstance(model, SequenceClassifier)
    assert model.l_out.output_shape == (None, 3)
    directions = [l for l in get_all_layers(model.l_out) if isinstance(l, LSTMLayer)]
    assert [l.backwards for l in directions] == [False, True]
    assert all(l.only_return_final for l in directions)
    assert model.params["output.W"].get_value().shape == (8, 3)


def test_unknown_task_or_cell():
    with pytest.raises(ValueError, match="task"):
        build_model(dict(LM, task="translate"))
    with pytest.raises(ValueError, match="cell"):
        build_model(dict(LM, cell="rnn"))
