"""The HTML book and the slide decks: maths as MathML, nothing loaded from the network, linked pages,
notebooks run inside the build, and slides chosen by rule from the executed notebooks."""

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
from run_notebooks import MarkdownWithMath, MathMLRenderer, mathml  # noqa: E402

v4 = nbformat.v4
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/x)"
FIGURE = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3]); plt.show()"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="  # 1x1


class RemoteReferences(HTMLParser):
    """Collects every src/href of a <script>, <link> or <img> that points to http(s) or //host."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "link", "img"):
            self.found += [(tag, value) for name, value in attrs
                           if name in ("src", "href") and value and re.match(r"\s*(https?:)?//", value, re.I)]


def remote_references(page: str) -> list:
    parser = RemoteReferences()
    parser.feed(page)
    css_urls = re.findall(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)", page)
    cdns = [cdn for cdn in ("cdnjs.cloudflare.com", "unpkg.com", "cdn.jsdelivr.net") if cdn in page]
    return parser.found + css_urls + cdns


def render(markdown: str) -> str:
    return MarkdownWithMath(renderer=MathMLRenderer(escape=False)).render(markdown)


def run_script(name, *args):
    return subprocess.run([sys.executable, str(REPO / "scripts" / name), *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """Two tiny notebooks run through scripts/run_notebooks.py: (source folder, build folder, stdout)."""
    root = tmp_path_factory.mktemp("book")
    folder = root / "notebooks"
    folder.mkdir()
    maths = (f"# 00 · Maths\n\n{BADGE}\n\nInline $x^2$, code `$y$ stays`, \\$5 is money, and $x^$ is broken.\n\n"
             "$$\\frac{a}{b}$$\n\nA [paper](https://arxiv.org/abs/1806.09055). "
             '<img src="https://example.com/remote.png" alt="a remote picture">\n\n'
             + " ".join(["word"] * 300) + "\n\n<details><summary>Solution</summary>\n\n"
             + " ".join(["fold"] * 3000) + "\n\n</details>")
    nbformat.write(v4.new_notebook(cells=[v4.new_markdown_cell(maths), v4.new_code_cell(
        FIGURE + "\nimport os\nopen('written.txt', 'w').write(os.getcwd())")]), folder / "00_maths.ipynb")
    nbformat.write(v4.new_notebook(cells=[v4.new_markdown_cell("# 01 · Second\n\nText.")]), folder / "01_second.ipynb")
    out = run_script("run_notebooks.py", folder, "--build", root / "build")
    assert out.returncode == 0, out.stderr
    return folder, root / "build", out.stdout


def test_the_book_renders_maths_as_mathml(book):
    _, build, _ = book
    page = (build / "html" / "00_maths.html").read_text()
    soup = BeautifulSoup(page, "html.parser")
    assert soup.find("math", attrs={"display": "inline"}).find("msup") is not None  # $x^2$
    assert soup.find("math", attrs={"display": "block"}).find("mfrac") is not None  # $$\frac{a}{b}$$
    assert "$x^2$" not in page and "<code>$y$ stays</code>" in page and "$5 is money" in page
    assert '<code class="latex">$x^$</code>' in page  # what latex2mathml cannot parse stays readable


def test_the_book_loads_nothing_remote(book):
    _, build, _ = book
    pages = sorted((build / "html").glob("*.html"))
    assert len(pages) == 3
    for page in pages:
        assert remote_references(page.read_text()) == [], page.name
    page = (build / "html" / "00_maths.html").read_text()
    assert "a remote picture" in page  # a remote image becomes its alt text ...
    assert '<a href="https://colab.research.google.com/x">Open In Colab</a>' in page  # ... a badge a plain link
    assert '<a href="https://arxiv.org/abs/1806.09055">paper</a>' in page


def test_each_page_links_the_previous_and_next_pages_and_the_index(book):
    _, build, _ = book
    first = BeautifulSoup((build / "html" / "00_maths.html").read_text(), "html.parser")
    second = BeautifulSoup((build / "html" / "01_second.html").read_text(), "html.parser")
    for soup in (first, second):
        navs = soup.find_all("nav")
        assert len(navs) == 2  # top and bottom
        assert all(nav.find("a", href="index.html") for nav in navs)
    assert first.nav.find("a", rel="next")["href"] == "01_second.html" and first.nav.find("a", rel="prev") is None
    assert second.nav.find("a", rel="prev")["href"] == "00_maths.html" and second.nav.find("a", rel="next") is None
    assert "00 · Maths" in second.nav.get_text()


def test_the_index_gives_reading_times_without_the_folds(book):
    _, build, _ = book
    index = (build / "html" / "index.html").read_text()
    assert '<a href="00_maths.html">00 · Maths</a></td><td>3 min</td>' in index  # 300 words and a few, not the fold's 3000
    assert '<a href="01_second.html">01 · Second</a></td><td>1 min</td>' in index


def test_notebooks_run_inside_the_build_folder(book):
    folder, build, _ = book
    assert not (folder / "written.txt").exists()
    assert (build / "notebooks" / "written.txt").read_text() == str(build / "notebooks")


def test_in_place_runs_in_a_scratch_folder_it_removes(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    code = "import os\nopen('written.txt', 'w').write('x')\nprint(os.getcwd())"
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell(code)]), folder / "00_a.ipynb")
    out = run_script("run_notebooks.py", folder, "--in-place", "--build", tmp_path / "build")
    assert out.returncode == 0, out.stderr
    scratch = nbformat.read(folder / "00_a.ipynb", as_version=4).cells[0].outputs[0]["text"].strip()
    assert scratch != str(folder) and not (folder / "written.txt").exists()
    assert not (tmp_path / "build").exists() and not Path(scratch).exists()  # the scratch folder is gone


def test_markdown_maths_skips_code_and_escaped_dollars():
    html = render("Pay \\$5 and \\$6; `$a$` and\n\n```\nprice = $b$ + $$c$$\n```\n\nthen $d$")
    assert "Pay $5 and $6" in html and "<code>$a$</code>" in html and "price = $b$ + $$c$$" in html
    assert html.count("<math") == 1 and "<mi>d</mi>" in html


def test_a_formula_latex2mathml_cannot_parse_falls_back_to_its_source():
    assert mathml("x^", "inline") == '<code class="latex">$x^$</code>'
    assert mathml("\\left( x", "block") == '<code class="latex">$$\\left( x$$</code>'
    assert "<mo>arg</mo>" in mathml("\\arg\\max_k \\alpha_k", "inline")  # not the raw "\arg"


def executed_notebook() -> nbformat.NotebookNode:
    """A notebook as run_notebooks.py leaves it: title with badge, two sections, figures, a Summary."""
    image = v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})
    return v4.new_notebook(cells=[
        v4.new_markdown_cell(f"# 00 · Decks\n\n{BADGE}\n\n**You will learn to**\n\n- make slides\n\n**Prerequisites:** none."),
        v4.new_code_cell("import matplotlib", outputs=[v4.new_output("stream", name="stdout", text="set-up done\n")]),
        v4.new_markdown_cell("## 1. A section with $x^2$\n\nFirst paragraph.\n\nSecond paragraph, not on a slide."),
        v4.new_code_cell(FIGURE, outputs=[image, v4.new_output("stream", name="stdout", text="printed 42\n")]),
        v4.new_markdown_cell("### A subsection, not a slide\n\nText."),
        v4.new_code_cell(FIGURE, outputs=[image]),
        v4.new_markdown_cell("## Summary\n\n- one\n\nSecond summary paragraph.\n\n<details>hidden solution</details>\n\n"
                             "## Exercises\n\n1. Try it."),
    ])


@pytest.fixture
def fake_reveal(tmp_path):
    """Stands in for an npm-installed reveal.js: the decks only link its files."""
    dist = tmp_path / "reveal.js" / "dist"
    (dist / "theme").mkdir(parents=True)
    for name in ("reveal.js", "reveal.css", "theme/white.css"):
        (dist / name).write_text("/* reveal.js */")
    return tmp_path / "reveal.js"


def slides(page: str) -> list:
    return BeautifulSoup(page, "html.parser").select("div.slides > section")


def test_make_slides_builds_an_offline_deck_of_the_titles_sections_and_figures(tmp_path, fake_reveal):
    build = tmp_path / "build"
    (build / "notebooks").mkdir(parents=True)
    nbformat.write(executed_notebook(), build / "notebooks" / "00_decks.ipynb")
    out = run_script("make_slides.py", tmp_path / "no-sources", "--build", build, "--reveal", fake_reveal)
    assert out.returncode == 0, out.stdout + out.stderr
    page = (build / "slides" / "00_decks.html").read_text()
    texts = [s.get_text(" ", strip=True) for s in slides(page)]
    assert len(texts) == 6, texts  # title, section 1, two figures, Summary, Exercises
    assert texts[0].startswith("00 · Decks") and "make slides" in texts[0]
    assert "Open In Colab" not in texts[0] and "Prerequisites" not in texts[0]
    assert "First paragraph." in texts[1] and "Second paragraph" not in page
    assert [bool(s.find("img", src=re.compile("^data:image/png"))) for s in slides(page)] == [0, 0, 1, 1, 0, 0]
    assert "Second summary paragraph." in texts[4] and "hidden solution" not in page and "subsection" not in page
    assert "plt.plot" not in page and "printed 42" not in page and "set-up done" not in page  # figures only
    assert slides(page)[1].find("math") is not None
    assert remote_references(page) == []
    soup = BeautifulSoup(page, "html.parser")
    assert [s["src"] for s in soup.find_all("script", src=True)] == ["reveal.js/dist/reveal.js"]
    assert (build / "slides" / "reveal.js" / "dist" / "reveal.js").is_file()  # copied beside the deck
    assert '<a href="00_decks.html">00 · Decks</a>' in (build / "slides" / "index.html").read_text()


def test_make_slides_runs_the_notebooks_first_when_the_build_has_none(tmp_path, fake_reveal):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(v4.new_notebook(cells=[v4.new_markdown_cell("# 00 · Live\n\nText."), v4.new_code_cell(FIGURE)]),
                   folder / "00_live.ipynb")
    out = run_script("make_slides.py", folder, "--build", tmp_path / "build", "--reveal", fake_reveal)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "build" / "notebooks" / "00_live.ipynb").is_file()
    page = (tmp_path / "build" / "slides" / "00_live.html").read_text()
    assert len(slides(page)) == 2 and "data:image/png;base64," in page


def test_make_slides_says_how_to_install_reveal_js_when_it_is_missing(tmp_path):
    out = run_script("make_slides.py", "--build", tmp_path / "build", "--reveal", tmp_path / "nowhere")
    assert out.returncode == 1
    assert "reveal.js not found" in out.stdout and "npm install" in out.stdout and "make slides" in out.stdout
    assert not (tmp_path / "build" / "slides").exists()
