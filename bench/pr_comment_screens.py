"""Look at the PR comment as GitHub shows it (a dev script, not run in CI).

Builds the five-revision pull request of examples/five_revision_pr/, reviews it, renders the
sticky comment, the check run summary and one inline comment to HTML with cmark-gfm (GitHub's
markdown extensions) inside a GitHub-width comment box, and screenshots each with headless Chromium:

    python -m bench.pr_comment_screens OUT_DIR [--css github-markdown-light.css] [--markdown FILE ...]

Needs the Debian packages `chromium` and `cmark-gfm`. `--css` takes GitHub's markdown CSS (the npm
package github-markdown-css: `npm pack github-markdown-css`); without it a minimal CSS with GitHub's
widths and fonts is used. `--markdown FILE` screenshots other markdown files too (e.g. a comment
saved from an older version, to compare). Prints each picture's height in pixels: one screen of
GitHub's widest layout is about 1,000 px.
"""

from __future__ import annotations

import argparse
import html
import re
import subprocess
import sys
import tempfile
from pathlib import Path

WIDTH = 1012          # the browser window: GitHub's conversation column at its widest is ~830 px of it
BOX = 830
MINIMAL_CSS = """
.markdown-body { font-family: -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif;
  font-size: 14px; line-height: 1.5; color: #1f2328; word-wrap: break-word; }
.markdown-body code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 85%;
  background: rgba(175,184,193,.2); padding: .2em .4em; border-radius: 6px; }
.markdown-body pre { background: #f6f8fa; padding: 16px; overflow: auto; border-radius: 6px; }
.markdown-body pre code { background: none; padding: 0; }
.markdown-body table { border-collapse: collapse; display: block; width: max-content; max-width: 100%;
  overflow: auto; }
.markdown-body td, .markdown-body th { border: 1px solid #d1d9e0; padding: 6px 13px; }
.markdown-body h3 { font-size: 1.25em; font-weight: 600; }
.markdown-body a { color: #0969da; text-decoration: none; }
"""
PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>{css}
body {{ margin: 0; background: #fff; }}
.box {{ width: {box}px; margin: 24px 24px 24px 80px; border: 1px solid #d1d9e0; border-radius: 6px; }}
.head {{ background: #f6f8fa; border-bottom: 1px solid #d1d9e0; padding: 8px 16px; font: 14px sans-serif;
  color: #59636e; }}
.markdown-body {{ padding: 16px; }}
</style></head><body><div class="box"><div class="head"><b>github-actions</b> bot · {what}</div>
<div class="markdown-body">{body}</div></div>
<script>document.title = "H" + Math.ceil(document.querySelector(".box").getBoundingClientRect().bottom + 24);</script></body></html>"""


def to_html(markdown: str) -> str:
    """GitHub's flavour: tables, strikethrough, autolinks, task lists; its raw HTML (<details>,
    <sub>) is kept, as GitHub keeps it."""
    extensions = [arg for e in ("table", "strikethrough", "autolink", "tagfilter", "tasklist") for arg in ("-e", e)]
    return subprocess.run(["cmark-gfm", "--unsafe", *extensions], input=markdown, capture_output=True,
                          text=True, check=True).stdout


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run", *args],
                          capture_output=True, text=True, timeout=120)


def screenshot(markdown: str, what: str, css: str, out: Path) -> int:
    """Screenshot `markdown` as a GitHub comment into `out`; its height in pixels."""
    page = out.with_suffix(".html")
    page.write_text(PAGE.format(css=css, box=BOX, what=html.escape(what), body=to_html(markdown)), encoding="utf-8")
    dom = _chromium("--dump-dom", "--window-size=%d,1000" % WIDTH, page.as_uri()).stdout
    m = re.search(r"<title>H(\d+)</title>", dom)
    height = int(m.group(1)) if m else 2000
    _chromium(f"--screenshot={out}", f"--window-size={WIDTH},{height}", page.as_uri())
    return height


def pictures(out_dir: Path, css: str) -> dict[str, tuple[Path, str]]:
    """The comment, the check summary and the inline comment of the five-revision PR."""
    from bench.pr_comment import build_pr_repo, review_pr
    from bot import publish
    from linters.findings import Severity
    from linters.report import markdown

    with tempfile.TemporaryDirectory(prefix="alembic-review-screens-") as tmp:
        report = review_pr(build_pr_repo(Path(tmp) / "exams"))
    pr_url = "https://github.com/acme/exams/pull/42"
    comment = publish.summary_body(report, "e536aa4f00d", pr_url=pr_url)
    check = markdown.render(report, max_chars=publish.CHECK_TEXT_LIMIT, pr_url=pr_url)
    with_fix = next(f for f in report.findings if f.suggestion and f.rule == "adding-foreign-key-constraint")
    folded = publish._folded_into(report, Severity.WARNING.rank).get(id(with_fix), [])
    inline = publish.inline_body(with_fix, "0" * 20, True, report.project, folded)
    return {"comment": (out_dir / "comment.png", comment),
            "comment-opened": (out_dir / "comment-opened.png", comment.replace("<details>", "<details open>")),
            "check-summary": (out_dir / "check-summary.png", check),
            "inline": (out_dir / "inline.png", inline)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.pr_comment_screens")
    p.add_argument("out", type=Path)
    p.add_argument("--css", type=Path, help="GitHub's markdown CSS (github-markdown-light.css)")
    p.add_argument("--markdown", type=Path, nargs="*", default=[], help="more markdown files to screenshot")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    css = args.css.read_text() if args.css else MINIMAL_CSS
    shots = pictures(args.out, css)
    for extra in args.markdown:
        shots[extra.stem] = (args.out / f"{extra.stem}.png", extra.read_text())
    for name, (png, md) in shots.items():
        md_file = png.with_suffix(".md")
        md_file.write_text(md, encoding="utf-8")
        print(f"{name:16} {screenshot(md, name, css, png):6,} px  {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
