"""The vocabulary of advertising and of what merely looks like it, in Vietnamese and English.

Each phrase is written as people write it (with diacritics); it is matched in the folded form
(fold.py), so its forms without diacritics, in NFD or in capitals match too. A phrase that folds
to something common in other words is left out (e.g. `sale` alone is kept, `mua` alone is not).
"""
from __future__ import annotations

from mailguard.advertising.fold import fold_phrase, mark_fold

# Promotional wording: each distinct phrase found adds to the score (capped in detect.py).
PROMO = (
    # Vietnamese
    "khuyến mãi", "khuyến mại", "giảm giá", "ưu đãi", "mua 1 tặng 1", "mua một tặng một", "mua 2 tặng 1",
    "quà tặng", "tặng kèm", "miễn phí vận chuyển", "miễn phí giao hàng", "giao hàng miễn phí", "freeship", "free ship", "mã giảm giá", "voucher",
    "coupon", "giá sốc", "giá tốt nhất", "giá ưu đãi", "siêu sale", "flash sale", "xả kho", "xả hàng",
    "đại hạ giá", "sale off", "hoàn tiền", "cashback", "số lượng có hạn", "chỉ còn", "duy nhất hôm nay",
    "cơ hội cuối", "sắp hết hạn ưu đãi", "trả góp 0%", "lãi suất ưu đãi", "hoàn tiền lên đến",
    "bộ sưu tập mới", "khai trương", "tri ân khách hàng", "giảm ngay", "giảm thêm",
    "ưu đãi độc quyền", "chương trình khuyến mãi", "mở bán", "giá chỉ từ", "chiết khấu",
    "vé máy bay giá rẻ", "đăng ký tư vấn", "tư vấn miễn phí", "dùng thử miễn phí", "black friday",
    "cyber monday", "siêu ưu đãi", "deal hot", "giá gốc", "giá chỉ",
    # English
    "sale", "on sale", "special offer", "limited time", "limited time offer", "exclusive offer",
    "free shipping", "free delivery", "buy one get one", "buy 1 get 1", "bogo", "discount", "promo code",
    "coupon code", "best price", "lowest price", "clearance", "save up to", "new arrivals",
    "new collection", "last chance", "ends tonight", "while supplies last", "free trial",
    "special price", "deal of the day", "members only", "early bird",
)

# Weaker: words of trades that advertise a lot, but also of everyday mail (half weight).
PROMO_WEAK = (
    "sản phẩm mới", "ra mắt", "combo", "đặt trước", "dự án", "căn hộ", "tour", "nghỉ dưỡng",
    "trọn gói", "học bổng", "khóa học", "deal", "new product", "launch", "offer", "save", "free",
    "miễn phí", "giá", "price", "sản phẩm", "dịch vụ", "products", "collection", "hotline",
)

# Calls to action.
CTA = (
    "mua ngay", "đặt ngay", "đặt hàng ngay", "đăng ký ngay", "xem ngay", "nhận ngay", "săn ngay",
    "đặt phòng ngay", "đặt vé ngay", "liên hệ ngay", "gọi ngay", "mở thẻ ngay", "nhận ưu đãi",
    "khám phá ngay", "tải ứng dụng", "mua sắm ngay", "chốt đơn", "inbox ngay", "xem chi tiết",
    "shop now", "buy now", "order now", "book now", "sign up now", "get yours", "claim your",
    "click here", "subscribe now", "register now", "get started", "call now",
    "redeem now", "start your free trial", "see the deals", "grab yours",
)

# Transactional mail: an order, a payment, a code, an account's balance. Ads carry these too
# ("đơn hàng" in "đơn hàng từ 300k được freeship"), so each only lowers the score.
TRANSACTIONAL = (
    "mã otp", "otp", "mã xác thực", "mã xác nhận", "mã kích hoạt", "verification code",
    "one time password", "one-time password", "security code", "số dư", "biến động số dư",
    "số dư khả dụng", "available balance", "account balance", "giao dịch thành công",
    "giao dịch của quý khách", "thông báo giao dịch", "transaction alert", "xác nhận đơn hàng",
    "đơn hàng của bạn", "đơn hàng của quý khách", "mã đơn hàng", "order confirmation",
    "your order", "order number", "order no", "order id", "hóa đơn", "hoá đơn", "invoice", "receipt",
    "biên lai", "đã thanh toán", "payment received", "thanh toán thành công", "mã vận đơn",
    "tracking number", "đang được giao", "has shipped", "đặt lại mật khẩu", "reset your password",
    "sao kê", "statement", "không chia sẻ mã", "do not share this code", "hạn thanh toán",
    "amount due", "thuê bao", "cước", "mã tra cứu", "hóa đơn điện tử",
)

# Official and news mail: information, not the introduction of goods (Art. 3's exceptions).
INFORMATIONAL = (
    "nghị định", "thông tư", "công văn", "bộ thông tin và truyền thông", "cục an toàn thông tin",
    "ủy ban nhân dân", "cơ quan nhà nước", "quy định", "pháp luật", "căn cứ", "thông báo về việc",
    "tin tức", "bản tin", "điểm tin", "thời sự", "headlines", "top stories", "news digest",
    "breaking news", "editorial", "mailing list", "digest",
)

# Opt-out wording (optout.py).
OPTOUT = (
    "hủy đăng ký", "huỷ đăng ký", "từ chối nhận", "ngừng nhận", "không muốn nhận", "hủy nhận",
    "huỷ nhận", "dừng nhận", "bỏ đăng ký", "để không nhận", "unsubscribe", "opt out", "opt-out",
    "stop receiving", "no longer wish to receive", "remove yourself", "manage your preferences",
    "update your preferences", "email preferences",
)

# The advertiser's name in a footer (advertiser.py).
COMPANY = (
    "công ty", "cty", "tnhh", "cổ phần", "tập đoàn", "ngân hàng", "cửa hàng", "shop", "store",
    "company", "ltd", "llc", "inc", "jsc", "corp", "corporation", "co ltd", "bank", "hotel",
    "khách sạn", "resort", "group", "tiệm",
)
ADDRESS = (
    "địa chỉ", "đ/c", "trụ sở", "văn phòng", "address", "phường", "quận", "huyện", "thành phố",
    "tp hcm", "tp hồ chí minh", "hà nội", "đà nẵng", "street", "district", "ward", "floor",
    "tầng", "đường", "khánh hòa", "cầu giấy", "hoàn kiếm", "avenue", "suite",
)

# A forwarded message's body marks (personal mail that quotes an ad).
FORWARDED = (
    "forwarded message", "original message", "thư được chuyển tiếp", "tin nhắn được chuyển tiếp",
    "begin forwarded message",
)


def folded(phrases: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(phrase as written, its folded and padded form), duplicates after folding dropped."""
    seen: dict[str, str] = {}
    for p in phrases:
        seen.setdefault(fold_phrase(p), p)
    return tuple((p, f) for f, p in seen.items())


F_PROMO = folded(PROMO)
F_PROMO_WEAK = folded(PROMO_WEAK)
F_CTA = folded(CTA)
F_TRANSACTIONAL = folded(TRANSACTIONAL)
F_INFORMATIONAL = folded(INFORMATIONAL)
F_OPTOUT = folded(OPTOUT)
F_COMPANY = folded(COMPANY)
# Without diacritics `tầng` (floor) is `tặng` (gift: "mua 2 tang 1") and `đường` (street) is
# `dưỡng` (care): those two count as address words only where diacritics are written (M_ADDRESS).
F_ADDRESS = folded(tuple(p for p in ADDRESS if p not in ("tầng", "đường")))
F_FORWARDED = folded(FORWARDED)


def marked(phrases: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(phrase, its form with diacritics kept) for text written with them: `tầng` (floor) and
    `tặng` (gift), `đường` (street) and `dưỡng` fold to one word, so these lists are matched as
    written when the text has diacritics."""
    return tuple((p, mark_fold(p)) for p in phrases)


M_COMPANY = marked(COMPANY)
M_ADDRESS = marked(ADDRESS)
M_CTA = marked(CTA)


def found(text: str, vocabulary: tuple[tuple[str, str], ...]) -> list[str]:
    """The phrases of `vocabulary` in folded `text`, as written."""
    return [p for p, f in vocabulary if f in text]


def within(text: str, vocabulary: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The part of `vocabulary` found in folded `text`: a phrase found in one of its lines is
    found in the whole (line breaks fold to spaces), so the lines of a text are tested against
    this part only — the same answers for a fraction of the tests."""
    return tuple((p, f) for p, f in vocabulary if f in text)
