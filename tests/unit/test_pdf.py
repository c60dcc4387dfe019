"""The collection page the PDFs print from, and the print style's page width."""

from scalelab.publishing import pdf


def test_the_collection_holds_every_page_body_once_each_from_a_new_sheet(tmp_path):
    for name, body in [("01-a", "<p>one</p>"), ("02-b", "<p>two</p>")]:
        (tmp_path / f"{name}.html").write_text(
            f"<html><head><title>{name}</title><style>x{{}}</style></head>"
            f'<body class="jp-Notebook">{body}</body></html>')
    page = pdf.collection_html(tmp_path, ["01-a", "02-b"])
    assert page.count("<head>") == 1 and "<title>01-a</title>" in page
    assert page.index("<p>one</p>") < page.index("<p>two</p>")
    assert page.count('style="break-before: page"') == 2


def test_a_table_is_cut_when_it_reaches_past_the_printed_page():
    assert pdf.PAGE_WIDTH_PX == round((210 - 2 * pdf.MARGIN_MM) / 25.4 * 96)
    assert f"> {pdf.PAGE_WIDTH_PX} + 1" in pdf.CUT_TABLES
    assert f"size: A4; margin: {pdf.MARGIN_MM}mm" in pdf.PRINT_CSS
