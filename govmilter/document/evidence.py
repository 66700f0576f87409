"""What the document detector found: the evidence value and the class rules match on."""

from __future__ import annotations

from dataclasses import dataclass

from govmilter.document.settings import DocumentClass


@dataclass(frozen=True, slots=True)
class OfficialDocumentEvidence:
    """What the document detector found in a message.

    ``evidence`` holds short strings a person can read (``"subject: number/symbol 588/BTTTT-THH"``);
    never whole sentences of the message, so they may be shown to an administrator but are kept
    out of logs.
    """

    official: bool
    score: float
    #: "MẬT", "TỐI MẬT" or "TUYỆT MẬT", found whether or not the message scores as official
    secrecy: str | None = None
    urgency: str | None = None  #: "KHẨN", "THƯỢNG KHẨN", "HỎA TỐC" (and "HỎA TỐC HẸN GIỜ")
    evidence: tuple[str, ...] = ()
    unscannable: tuple[str, ...] = ()  #: why some part could not be scanned (limit, encryption)

    @property
    def document_class(self) -> DocumentClass:
        """The class rules match on: secret, official, marked, unscannable or none.

        A secrecy marking always counts: on a message that does not score as an official
        document it makes the class ``marked`` (which ``secret`` rules match too), never
        ``none`` or ``unscannable``.
        """
        if self.official:
            return DocumentClass.SECRET if self.secrecy else DocumentClass.OFFICIAL
        if self.secrecy:
            return DocumentClass.MARKED
        return DocumentClass.UNSCANNABLE if self.unscannable else DocumentClass.NONE


NO_DOCUMENT = OfficialDocumentEvidence(official=False, score=0.0)
