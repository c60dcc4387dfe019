"""The collection joined from the notebooks' PDFs, and the print style's page width."""

import io

from pypdf import PdfReader, PdfWriter

from scalelab.publishing import pdf


def _pdf(path, pages: int):
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    data = io.BytesIO()
    writer.write(data)
    path.write_bytes(data.getvalue())
    return path


def test_the_collection_holds_every_notebook_in_order_each_under_its_bookmark(tmp_path):
    parts = [_pdf(tmp_path / "01-a.pdf", 2), _pdf(tmp_path / "02-b.pdf", 3)]
    out = pdf.collection(parts, tmp_path / "collection.pdf")
    reader = PdfReader(out)
    assert len(reader.pages) == 5
    marks = [(m.title, reader.get_destination_page_number(m)) for m in reader.outline]
    assert marks == [("01-a", 0), ("02-b", 2)]


def test_a_table_is_cut_when_it_reaches_past_the_printed_page():
    assert pdf.PAGE_WIDTH_PX == round((210 - 2 * pdf.MARGIN_MM) / 25.4 * 96)
    assert f"> {pdf.PAGE_WIDTH_PX} + 1" in pdf.CUT_TABLES
    assert f"size: A4; margin: {pdf.MARGIN_MM}mm" in pdf.PRINT_CSS
