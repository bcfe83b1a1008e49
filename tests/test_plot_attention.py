"""plot.attention: one heatmap per head of one input's attention weights, checked on what it
draws."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_array_equal  # noqa: E402

import minnet as mn  # noqa: E402
from minnet import plot  # noqa: E402


def attended(causal=True, heads=2, n=3, T=4):
    layer = mn.MultiHeadAttention(6, heads, causal=causal, seed=0)
    layer.forward(np.random.default_rng(0).standard_normal((n, T, 6)))
    return layer


def heatmaps(fig):
    return [ax for ax in fig.axes if ax.images]


def test_one_heatmap_per_head_of_the_chosen_input(tmp_path):
    layer = attended(heads=3)
    fig = plot.attention(layer, sample=1, path=tmp_path / "a.png")
    axes = heatmaps(fig)
    assert [ax.get_title() for ax in axes] == ["head 0", "head 1", "head 2"]
    for h, ax in enumerate(axes):
        assert_array_equal(np.ma.getdata(ax.images[0].get_array()), layer.attention[1, h])
        assert ax.images[0].norm.vmin == 0 and ax.images[0].norm.vmax == 1
    assert "input 1" in fig._suptitle.get_text()
    assert (tmp_path / "a.png").exists()


def test_keys_hidden_by_the_causal_mask_are_blank():
    shown = heatmaps(plot.attention(attended(causal=True)))[0].images[0].get_array()
    assert_array_equal(np.ma.getmaskarray(shown), np.triu(np.ones((4, 4), dtype=bool), 1))
    full = heatmaps(plot.attention(attended(causal=False)))[0].images[0].get_array()
    assert not np.ma.getmaskarray(full).any()


def test_tokens_label_queries_and_keys():
    ax = heatmaps(plot.attention(attended(), tokens="abcd"))[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcd")
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abcd")


@pytest.mark.parametrize("make, kwargs, message", [
    (lambda: mn.MultiHeadAttention(6, 2), {}, "run a forward pass first"),
    (attended, {"sample": 3}, "sample 3 is not in the last batch of 3"),
    (attended, {"tokens": "abc"}, "3 tokens for a sequence of 4 positions"),
], ids=["no forward", "sample", "tokens"])
def test_bad_requests_say_what_is_wrong(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot.attention(make(), **kwargs)
