"""Write the bundled app's static assets, deterministically, at sizes typical of a real site.

    python scripts/make_static_assets.py

site.css (a small design system with utility classes, about 25 KB), app.js (vote buttons, a
tag autocomplete with its word list, about 40 KB), logo.png (64x64) and banner.jpg (600x400 photo-like
noise, about 90 KB). The files are committed; rerun this only to change them.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "benchmark_app" / "qa" / "static" / "qa"

BASE_CSS = """\
:root{--fg:#232629;--muted:#6a737c;--link:#0074cc;--tag-bg:#e1ecf4;--tag-fg:#39739d;
--accent:#f48225;--border:#d6d9dc;--ok:#2f6f44;font-family:-apple-system,"Segoe UI",
"Liberation Sans",sans-serif;font-size:14px;line-height:1.4}
*{box-sizing:border-box}body{margin:0;color:var(--fg);background:#fff}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
.topbar{display:flex;gap:1rem;align-items:center;padding:.5rem 1rem;border-top:3px solid var(--accent);
box-shadow:0 1px 2px rgba(0,0,0,.05)}.brand{display:flex;gap:.4rem;align-items:center;font-weight:700;color:var(--fg)}
.search input{width:28rem;max-width:40vw;padding:.4rem .6rem;border:1px solid var(--border);border-radius:3px}
.layout{display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:2rem;max-width:1100px;margin:1.5rem auto;padding:0 1rem}
.question-summary{display:flex;gap:1rem;padding:1rem 0;border-bottom:1px solid var(--border)}
.stats{flex:0 0 6.5rem;text-align:right;color:var(--muted);font-size:13px}
.stats .has-answers{color:var(--ok);border:1px solid var(--ok);border-radius:3px;padding:0 .25rem}
.summary h3{margin:0 0 .3rem;font-size:17px;font-weight:400}.excerpt{margin:0 0 .4rem;color:#3b4045}
.tag{display:inline-block;margin:0 .25rem .25rem 0;padding:.1rem .4rem;border-radius:3px;background:var(--tag-bg);
color:var(--tag-fg);font-size:12px}.byline{font-size:12px;color:var(--muted);text-align:right}
.post,.answer{display:flex;gap:1rem;padding:1rem 0;border-bottom:1px solid var(--border)}
.vote{flex:0 0 3rem;display:flex;flex-direction:column;align-items:center;font-size:20px}
.vote button{border:none;background:none;font-size:24px;color:#babfc4;cursor:pointer}
.answer.accepted .check{color:var(--ok);font-size:28px}.muted{color:var(--muted)}
.sidebar .banner{width:100%;height:auto;border-radius:4px}.tag-cloud{list-style:none;padding:0}
.footer{padding:2rem;text-align:center;color:var(--muted);background:#232629}
.pager{margin:1.5rem 0;text-align:center}
@media (max-width:800px){.layout{grid-template-columns:1fr}.sidebar{display:none}}
"""

JS = """\
/* Stack Underflow: vote buttons and tag autocomplete. */
(function () {
  "use strict";
  function vote(button) {
    var url = button.getAttribute("data-url");
    fetch(url, {method: "POST"}).then(function (r) { return r.json(); }).then(function (data) {
      var score = button.parentNode.querySelector("strong");
      if (score && typeof data.score === "number") { score.textContent = data.score; }
    });
  }
  function suggest(prefix, limit) {
    var out = [], p = prefix.toLowerCase();
    for (var i = 0; i < TAGS.length && out.length < limit; i++) {
      if (TAGS[i].indexOf(p) === 0) { out.push(TAGS[i]); }
    }
    return out;
  }
  document.addEventListener("click", function (e) {
    if (e.target.matches && e.target.matches(".vote button.up")) { vote(e.target); }
  });
  var box = document.querySelector(".search input");
  if (box) {
    box.addEventListener("input", function () { box.setAttribute("data-suggest", suggest(box.value, 8).join(",")); });
  }
  var TAGS = __TAGS__;
  window.StackUnderflow = {vote: vote, suggest: suggest};
}());
"""


def css(rng: np.random.Generator) -> str:
    parts = [BASE_CSS]
    # Utility classes, as a design system ships them: spacing, colours, widths.
    sides = {"m": "margin", "p": "padding"}
    dirs = {"": "", "t": "-top", "b": "-bottom", "l": "-left", "r": "-right"}
    for short, prop in sides.items():
        for d, suffix in dirs.items():
            for step in range(0, 13):
                parts.append(f".{short}{d}{step}{{{prop}{suffix}:{step * 0.25:g}rem}}")
    for name in ("black", "white", "orange", "blue", "green", "red", "yellow", "powder", "theme"):
        for shade in range(50, 950, 50):
            r, g, b = (int(v) for v in rng.integers(0, 256, size=3))
            parts.append(f".fc-{name}-{shade}{{color:#{r:02x}{g:02x}{b:02x}}}")
            parts.append(f".bg-{name}-{shade}{{background-color:#{r:02x}{g:02x}{b:02x}}}")
    for w in range(0, 101, 5):
        parts.append(f".w{w}{{width:{w}%}}.h{w}{{height:{w}%}}")
    return "\n".join(parts) + "\n"


def js(rng: np.random.Generator) -> str:
    syllables = ["py", "dja", "ngo", "re", "dis", "cache", "sql", "orm", "view", "temp", "late",
                 "async", "io", "http", "nginx", "uni", "corn", "celery", "rest", "api", "json",
                 "post", "gres", "index", "query", "load", "scale", "thread", "worker", "proxy"]
    tags = set()
    while len(tags) < 3000:
        n = int(rng.integers(1, 4))
        tags.add("-".join(str(s) for s in rng.choice(syllables, size=n)))
    return JS.replace("__TAGS__", json.dumps(sorted(tags)))


def logo_png() -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(0.64, 0.64), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_axis_off()
    for i, colour in enumerate(["#bcbbbb", "#bcbbbb", "#f48225", "#f48225", "#f48225"]):
        ax.add_patch(plt.Rectangle((0.2, 0.15 + i * 0.14), 0.6, 0.09, color=colour))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def banner_jpg(rng: np.random.Generator) -> bytes:
    from PIL import Image

    # Smooth gradients plus grain: compresses like a photo, not like a flat graphic.
    y, x = np.mgrid[0:400, 0:600]
    base = np.stack([120 + 80 * np.sin(x / 37.0), 140 + 60 * np.cos(y / 23.0),
                     160 + 50 * np.sin((x + y) / 51.0)], axis=-1)
    grain = rng.normal(0, 18, size=base.shape)
    img = np.clip(base + grain, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def main() -> None:
    rng = np.random.default_rng(20090601)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "site.css").write_text(css(rng))
    (OUT / "app.js").write_text(js(rng))
    (OUT / "logo.png").write_bytes(logo_png())
    (OUT / "banner.jpg").write_bytes(banner_jpg(rng))
    for f in sorted(OUT.iterdir()):
        print(f"{f.name:12s} {f.stat().st_size / 1024:7.1f} KB")


if __name__ == "__main__":
    main()
