"""Canonical XML of document subsets, against hand-written expected octets (W3C C14N 1.0 / exc-C14N).

libxml2's subtree C14N (what ``etree.tostring(element, method="c14n")`` runs) writes a spurious
``xmlns=""`` on descendants when the default namespace is declared on an ancestor of the apex:
every case below that has one fails on that path.
"""

from __future__ import annotations

import pytest
from egov_format.signing import C14N, C14N_COMMENTS, DS_NS, EXC_C14N, EXC_C14N_COMMENTS, canonicalize
from lxml import etree


def subset(document: bytes, path: str) -> etree._Element:
    root = etree.fromstring(document)
    found = root.xpath(path)
    assert len(found) == 1
    return found[0]


def test_default_namespace_declared_on_an_ancestor():
    si = subset(b'<S xmlns="urn:d"><SI><R><T/></R></SI></S>', "/*/*")
    assert canonicalize(si) == b'<SI xmlns="urn:d"><R><T></T></R></SI>'


def test_signed_info_of_a_default_namespace_signature():
    doc = (
        f'<DataRoot><署名情報><Signature xmlns="{DS_NS}"><SignedInfo>'
        f'<CanonicalizationMethod Algorithm="{C14N}"/><Reference URI="#構成情報"><DigestValue>x</DigestValue>'
        "</Reference></SignedInfo></Signature></署名情報></DataRoot>"
    ).encode()
    si = subset(doc, "//*[local-name()='SignedInfo']")
    assert canonicalize(si) == (
        f'<SignedInfo xmlns="{DS_NS}"><CanonicalizationMethod Algorithm="{C14N}"></CanonicalizationMethod>'
        '<Reference URI="#構成情報"><DigestValue>x</DigestValue></Reference></SignedInfo>'
    ).encode()


NESTED = (
    b'<S xmlns="urn:d" xmlns:u="urn:unused" xmlns:a="urn:a" xml:lang="ja" xml:space="preserve">'
    b'<SI xml:space="default"><!--c--><R a:x="1"><T/><a:Q/><P xmlns=""><O/></P></R></SI></S>'
)


@pytest.mark.parametrize(
    ("algorithm", "prefixes", "expected"),
    [
        # inclusive: every namespace in scope at the apex, inherited xml:* attributes (nearest wins)
        (C14N, None, b'<SI xmlns="urn:d" xmlns:a="urn:a" xmlns:u="urn:unused" xml:lang="ja" xml:space="default">'
                     b'<R a:x="1"><T></T><a:Q></a:Q><P xmlns=""><O></O></P></R></SI>'),
        (C14N_COMMENTS, None, b'<SI xmlns="urn:d" xmlns:a="urn:a" xmlns:u="urn:unused" xml:lang="ja" '
                              b'xml:space="default"><!--c--><R a:x="1"><T></T><a:Q></a:Q><P xmlns=""><O></O>'
                              b"</P></R></SI>"),
        # exclusive: only visibly utilized namespaces (plus the PrefixList), no inherited xml:*
        (EXC_C14N, None, b'<SI xmlns="urn:d" xml:space="default"><R xmlns:a="urn:a" a:x="1"><T></T><a:Q></a:Q>'
                         b'<P xmlns=""><O></O></P></R></SI>'),
        (EXC_C14N, ["u"], b'<SI xmlns="urn:d" xmlns:u="urn:unused" xml:space="default"><R xmlns:a="urn:a" a:x="1">'
                          b'<T></T><a:Q></a:Q><P xmlns=""><O></O></P></R></SI>'),
        (EXC_C14N_COMMENTS, ["a"], b'<SI xmlns="urn:d" xmlns:a="urn:a" xml:space="default"><!--c--><R a:x="1">'
                                   b'<T></T><a:Q></a:Q><P xmlns=""><O></O></P></R></SI>'),
    ],
)
def test_nested_prefixes_and_inherited_context(algorithm, prefixes, expected):
    assert canonicalize(subset(NESTED, "/*/*"), algorithm, prefixes) == expected


def test_prefixed_apex_below_a_default_namespace():
    doc = b'<r xmlns="urn:d" xmlns:p="urn:p"><p:a><b><p:c/></b></p:a></r>'
    assert canonicalize(subset(doc, "/*/*")) == (
        b'<p:a xmlns="urn:d" xmlns:p="urn:p"><b><p:c></p:c></b></p:a>'
    )
    assert canonicalize(subset(doc, "/*/*"), EXC_C14N) == b'<p:a xmlns:p="urn:p"><b xmlns="urn:d"><p:c></p:c></b></p:a>'


def test_bare_name_reference_drops_comments_and_whole_document_keeps_nothing_outside_the_root():
    root = etree.fromstring(b'<?pi x?><r xmlns="urn:d"><a ID="x"><!--c--><b/></a></r>').getroottree()
    assert canonicalize(root.getroot()[0], C14N_COMMENTS, with_comments=False) == (
        b'<a xmlns="urn:d" ID="x"><b></b></a>'
    )
    # the subset of the root element leaves out the document's top-level PI
    assert canonicalize(root.getroot()) == b'<r xmlns="urn:d"><a ID="x"><b></b></a></r>'
    assert canonicalize(root, C14N_COMMENTS) == b'<?pi x?>\n<r xmlns="urn:d"><a ID="x"><!--c--><b></b></a></r>'
