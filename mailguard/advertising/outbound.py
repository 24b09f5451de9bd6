"""Outbound mode (an ESP running mailguard on its submission path): non-compliant ads are
refused at submission, the reply naming the article of Decree 91/2020 they break."""
from __future__ import annotations

from mailguard.advertising import delivery as ad_delivery
from mailguard.smtp.replies import Reply


def refusal(findings) -> Reply | None:
    """Outbound mode (an ESP's submission path): a non-compliant ad is refused, naming the article."""
    if findings.label == "missing":
        seen = f" (it starts with {findings.label_seen})" if findings.label_seen else ""
        return Reply(550, f"5.7.1 Advertising email must start its Subject with [QC]{seen} (Decree 91/2020 Art. 18)")
    if not findings.advertiser_info:
        return Reply(550, "5.7.1 Advertising email must name the advertiser with a phone, email or address "
                          "before the opt-out (Decree 91/2020 Art. 19)")
    if findings.optout == "missing":
        return Reply(550, "5.7.1 Advertising email must end with a way to refuse further ads, "
                          "e.g. a List-Unsubscribe header (Decree 91/2020 Art. 20)")
    return None


def held_refusal(ad: ad_delivery.AdDelivery) -> Reply:
    refused = sorted(r for r, why in ad.held.items() if why.name == ad_delivery.AFTER_REFUSAL)
    if refused:
        return Reply(550, f"5.7.1 {', '.join(refused[:3])} refused advertising from this advertiser; "
                          "it must not be sent again (Decree 91/2020 Art. 20)")
    over = sorted(ad.held)
    return Reply(550, f"5.7.1 {', '.join(over[:3])} reached the number of advertising emails it may receive from this "
                      "advertiser in 24 hours (Decree 91/2020 Art. 13)")
