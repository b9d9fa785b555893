from cleaner import clean


def test_plain_text_article_keeps_its_paragraphs(seed_texts):
    text = seed_texts["002_e503c4c19fae78b4.txt"]
    article = clean(text)
    assert "Clearview AI" in article.text
    assert article.to_dict()["paragraphs"]
