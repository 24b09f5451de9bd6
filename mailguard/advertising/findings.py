"""What the ADVERTISING check found in one message: the value the flow acts on (ledger, refusals,
the X-Advertising header, outbound refusals). The check returns it as its CheckOutput.details
(None, or no details, for a message that is not advertising)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Label = Literal["QC", "AD", "missing"]
OptOut = Literal["header", "body", "missing"]


@dataclass(frozen=True)
class AdFindings:
    evidence: tuple[str, ...]  # why this is advertising, short phrases (the AD_DETECTED detail)
    label: Label  # the decoded Subject starts with exactly [QC] / [AD] (leading whitespace tolerated)
    label_seen: str  # the near-miss seen when label == "missing" ("[qc]", "[ADV]", "QC:"; "" for none)
    optout: OptOut  # List-Unsubscribe, else opt-out text and a link in the last part of the body
    advertiser_info: bool  # an advertiser name with a phone, email or address before the opt-out
    advertiser: str  # the organizational domain the ledger counts ("" when none can be told)
    authenticated: bool  # advertiser is the DKIM-aligned or SPF-validated From domain

    @property
    def compliant(self) -> bool:
        return self.label != "missing" and self.optout != "missing" and self.advertiser_info
