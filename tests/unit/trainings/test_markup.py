"""Module texts: Markdown in, sanitised HTML out."""
from events.trainings.markup import render


def test_markdown_is_rendered():
    html = render("# Titre\n\n**gras**, *penché*, [lien](https://example.org)\n\n- un\n- deux")
    assert "<h1>Titre</h1>" in html and "<strong>gras</strong>" in html and "<em>penché</em>" in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">lien</a>' in html
    assert "<li>un</li>" in html
    assert render("") == ""


def test_nothing_that_runs_gets_through():
    html = render('<script>alert(1)</script>\n\n<img src=x onerror="alert(1)">\n\n[x](javascript:alert(1))\n\n'
                  '[y](data:text/html;base64,PHNjcmlwdD4=)\n\n<a href="javascript:alert(1)">z</a>')
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert '&lt;a href="javascript' in html  # the raw tag shown as text, never as a link
