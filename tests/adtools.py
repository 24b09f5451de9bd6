"""A Vietnamese advertising email for the ledger's tests: labelled, with opt-out and advertiser
identity unless the subject says otherwise; `tag` goes in a header to find it in a Maildir."""
from __future__ import annotations

import base64


def ad(subject: str = "[QC] Giảm giá 50% toàn bộ cửa hàng", n: int = 0, advertiser: str = "shop.example",
       tag: str = "", to: str = "user@test.example") -> bytes:
    encoded = base64.b64encode(subject.encode()).decode()
    return (f"From: Shop Thời Trang <news@{advertiser}>\r\nTo: {to}\r\n"
            f"Subject: =?utf-8?b?{encoded}?=\r\nMessage-ID: <ad{n}.{tag}@{advertiser}>\r\n"
            f"X-Tag: {tag}\r\nMIME-Version: 1.0\r\n"
            f"List-Unsubscribe: <mailto:unsub@{advertiser}>, <https://{advertiser}/unsub>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "Khuyến mãi lớn nhất năm! Giảm giá 50% cho mọi sản phẩm, mua 1 tặng 1.\r\n"
            f"Giá chỉ từ 99.000đ. Mua ngay tại https://{advertiser}/sale\r\n\r\n"
            "Công ty TNHH Shop Thời Trang, 12 Lê Lợi, Quận 1, TP.HCM. ĐT: 028 3822 1234, "
            f"email: cskh@{advertiser}\r\n"
            f"Để hủy đăng ký nhận thư, bấm vào đây: https://{advertiser}/unsub\r\n").encode()
