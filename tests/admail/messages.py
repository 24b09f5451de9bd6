"""The texts of the advertising test set (build.py writes them as .eml). Made up for the tests."""
from build import esp, unsub

F_SHOP = """
Công ty TNHH Thời Trang Mây Việt
Địa chỉ: 123 Nguyễn Trãi, Phường Bến Thành, Quận 1, TP Hồ Chí Minh
Hotline: 0901 234 567 - Email: cskh@mayviet.example.vn"""

ADS = [
    # ------------------------------------------------------------------ dev
    dict(file="dev-01-fashion-qc", split="dev", enc="B", from_='"Mây Việt" <news@mayviet.example.vn>',
         subject="[QC] Siêu sale cuối tuần - giảm giá đến 50% toàn bộ áo khoác",
         body="Chào An,\nTuần này Mây Việt giảm giá đến 50% cho toàn bộ áo khoác và váy mùa xuân.\n"
              "Áo khoác dạ chỉ còn 599.000đ (giá gốc 1.199.000đ). Miễn phí vận chuyển cho đơn từ 300.000đ.\n"
              "LINK https://mayviet.example.vn/sale Mua ngay\n" + F_SHOP +
              "\nBạn nhận thư này vì đã đăng ký nhận tin. Hủy đăng ký: https://mayviet.example.vn/unsubscribe",
         headers=esp() + unsub("mayviet.example.vn"), label="QC", optout="header", info=True),
    dict(file="dev-02-bank-card", split="dev", enc="Q", from_='"Ngân hàng Sao Mai" <uudai@saomaibank.example.vn>',
         subject="Mở thẻ tín dụng Sao Mai Platinum - hoàn tiền 10% mọi chi tiêu",
         body="Kính gửi Quý khách,\nChương trình ưu đãi dành riêng cho Quý khách: mở thẻ tín dụng Platinum, "
              "hoàn tiền 10% cho chi tiêu ăn uống, miễn phí thường niên năm đầu, trả góp 0% tại hơn 500 đối tác.\n"
              "LINK https://saomaibank.example.vn/the-platinum Mở thẻ ngay\n"
              "Ngân hàng TMCP Sao Mai - Hội sở: 45 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội - Tổng đài 1900 5454 13\n"
              "Nếu không muốn nhận thư ưu đãi, vui lòng bấm vào đây để từ chối nhận: https://saomaibank.example.vn/tu-choi",
         label="missing", optout="body", info=True),
    dict(file="dev-03-travel-qc-lower", split="dev", html=True, from_='"Du lịch Biển Xanh" <tour@bienxanh.example.vn>',
         subject="[qc] Tour Phú Quốc 3 ngày 2 đêm chỉ từ 2.990.000đ",
         body="Hè rực rỡ cùng Biển Xanh!\nTour Phú Quốc 3N2Đ trọn gói vé máy bay và khách sạn 4 sao, giá chỉ từ 2.990.000đ/khách.\n"
              "Ưu đãi đặt sớm: giảm thêm 500.000đ cho nhóm từ 4 người. Số lượng có hạn.\n"
              "LINK https://bienxanh.example.vn/phu-quoc Đặt tour ngay\n"
              "Công ty Cổ phần Du lịch Biển Xanh, 88 Trần Phú, Quận Hải Châu, Đà Nẵng. ĐT: 0236 3888 999\n"
              "LINK https://bienxanh.example.vn/huy-dang-ky Hủy đăng ký nhận tin",
         label="missing", seen="[qc]", optout="body", info=True),
    dict(file="dev-04-realestate-qc-colon", split="dev", enc="utf8", from_='"Sunrise Land" <sales@sunriseland.example.vn>',
         subject="QC: Mở bán căn hộ Sunrise River - giá chỉ từ 35 triệu/m2",
         body="Chính thức mở bán đợt 1 dự án căn hộ Sunrise River ven sông Sài Gòn.\n"
              "Giá chỉ từ 35 triệu/m2, chiết khấu 5% khi thanh toán nhanh, tặng gói nội thất 200 triệu.\n"
              "Đăng ký tư vấn miễn phí và xem nhà mẫu cuối tuần này.\n"
              "Liên hệ Phòng kinh doanh Công ty Sunrise Land: 0938 777 888",
         label="missing", seen="QC:", optout="missing", info=True),
    dict(file="dev-05-electronics-ad-en", split="dev", from_='"VoltMart" <deals@voltmart.example.com>',
         subject="[AD] Weekend deals: up to 40% off headphones and speakers",
         body="Hi there,\nThis weekend only: save up to 40% on headphones, speakers and smart watches.\n"
              "Wireless earbuds now $49.99 (was $89.99). Free shipping on orders over $35.\n"
              "LINK https://voltmart.example.com/weekend Shop now\n"
              "VoltMart Inc., 500 Market Street, San Francisco, CA 94105, support@voltmart.example.com\n"
              "You are receiving this because you subscribed. Unsubscribe: https://voltmart.example.com/unsubscribe",
         headers=["X-Mailer: SendGrid"] + unsub("voltmart.example.com"), label="AD", optout="header", info=True),
    dict(file="dev-06-cosmetics-nfd", split="dev", nfd=True, enc="B", from_='"Hoa Sen Beauty" <shop@hoasen.example.vn>',
         subject="[QC] Mua 1 tặng 1 son dưỡng Hoa Sen - chỉ 3 ngày",
         body="Từ 15 đến 17/3, mua 1 tặng 1 tất cả son dưỡng môi Hoa Sen.\nNhập mã HOASEN20 để được giảm thêm 20%.\n"
              "LINK https://hoasen.example.vn/son Mua ngay\n"
              "Cửa hàng Hoa Sen Beauty - 12 Hàng Bài, Hoàn Kiếm, Hà Nội - 024 3939 1234\n"
              "Để hủy đăng ký nhận thư, truy cập https://hoasen.example.vn/huy",
         label="QC", optout="body", info=True),
    dict(file="dev-07-plain-nodiacritics", split="dev", plain=True, enc="utf8", from_="<km@dienmayxanh.example.vn>",
         subject="Khuyến mãi lớn tháng 3 - giảm giá tivi, tủ lạnh",
         body="Khuyến mãi lớn tháng 3: giảm giá đến 30% tivi, tủ lạnh, máy giặt.\nTrả góp 0% lãi suất, quà tặng hấp dẫn.\n"
              "Xem ngay tại cửa hàng gần nhất.",
         label="missing", optout="missing", info=False),
    dict(file="dev-08-spa-paren", split="dev", from_='"Lotus Spa" <hello@lotusspa.example.vn>',
         subject="(QC) Lotus Spa tri ân khách hàng - voucher 500k",
         body="Lotus Spa tri ân khách hàng thân thiết: tặng voucher 500k cho liệu trình chăm sóc da.\n"
              "Ưu đãi áp dụng đến 31/3. Đặt lịch ngay: 0909 111 222\n"
              "Lotus Spa - 9 Lê Lợi, Quận 1, TP HCM\n"
              "Unsubscribe / Hủy đăng ký: https://lotusspa.example.vn/unsub",
         headers=["X-SG-EID: abc123", "Precedence: bulk"], label="missing", seen="(QC)", optout="body", info=True),
    dict(file="dev-09-food-adv", split="dev", enc="Q", from_='"FoodNow" <promo@foodnow.example.vn>',
         subject="[ADV] Freeship 0đ mọi đơn hôm nay trên FoodNow",
         body="Hôm nay FoodNow freeship 0đ cho mọi đơn hàng từ 50k. Nhập mã FREESHIP.\nDeal hot: trà sữa 19k, cơm tấm 25k.\n"
              "LINK https://foodnow.example.vn/deal Đặt ngay\n",
         headers=unsub("foodnow.example.vn") + ["Feedback-ID: 123:promo:foodnow"], label="missing", seen="[ADV]",
         optout="header", info=False),
    dict(file="dev-10-course-quangcao", split="dev", from_='"Anh ngữ Ánh Dương" <tuyensinh@anhduong.example.edu.vn>',
         subject="[Quảng cáo] Khóa học IELTS cấp tốc - học bổng 30% học phí",
         body="Trung tâm Anh ngữ Ánh Dương khai giảng khóa học IELTS cấp tốc tháng 4.\n"
              "Học bổng 30% học phí cho 20 học viên đăng ký sớm nhất. Học thử miễn phí 2 buổi.\n"
              "LINK https://anhduong.example.edu.vn/ielts Đăng ký ngay\n"
              "Trung tâm Anh ngữ Ánh Dương - Công ty TNHH Giáo dục Ánh Dương, 210 Cầu Giấy, Hà Nội, 0243 555 6677\n"
              "Từ chối nhận thư: https://anhduong.example.edu.vn/tu-choi-nhan",
         label="missing", seen="[Quảng cáo]", optout="body", info=True),
    dict(file="dev-11-label-not-first", split="dev", from_='"Mộc Hương" <shop@mochuong.example.vn>',
         subject="Siêu sale mỹ phẩm thiên nhiên [QC]",
         body="Mộc Hương siêu sale: giảm 40% serum, kem dưỡng, sữa rửa mặt. Quà tặng cho đơn từ 500.000đ.\n"
              "LINK https://mochuong.example.vn Mua sắm ngay\n",
         headers=unsub("mochuong.example.vn"), label="missing", seen="[QC] not first", optout="header", info=False),
    dict(file="dev-12-saas-en", split="dev", enc="utf8", from_='"CloudNote" <team@cloudnote.example.com>',
         subject="Get 3 months of CloudNote Pro free - limited time offer",
         body="Upgrade to CloudNote Pro and get your first 3 months free. Limited time offer, ends Friday.\n"
              "Unlimited notebooks, offline sync and 20% off the annual plan.\n"
              "LINK https://cloudnote.example.com/pro Claim your offer\n"
              "CloudNote Ltd, 10 King Street, London EC2V 8AA, United Kingdom\n"
              "Manage your preferences or unsubscribe: https://cloudnote.example.com/unsubscribe",
         headers=["X-Mailer: HubSpot"] + unsub("cloudnote.example.com"), label="missing", optout="header", info=True),
    # dev, second round (after the held-out run): English postal addresses without a street word,
    # and contact details that are only a call to action or a salesperson's sign-off
    dict(file="dev-13-outdoor-en", split="dev", from_='"Northpeak" <deals@northpeak.example.com>',
         subject="Winter gear 40% off - this weekend only",
         body="Our winter sale is on: 40% off insulated jackets, boots from $59 and free shipping over $75.\n"
              "LINK https://northpeak.example.com/winter Shop now\n"
              "Northpeak Outfitters, 48 Harbor View, Portland, ME 04101\n"
              "You received this email because you signed up at northpeak.example.com. Unsubscribe: "
              "https://northpeak.example.com/unsubscribe",
         headers=esp() + unsub("northpeak.example.com"), label="missing", optout="header", info=True),
    dict(file="dev-14-travel-pobox-en", split="dev", enc="Q", from_='"Sunbeam Travel" <hello@sunbeam.example.com>',
         subject="[AD] Hawaii from $499 - book by Sunday",
         body="Escape to Hawaii: 5 nights from $499 per person, flights included. Book by Sunday and save 25%.\n"
              "LINK https://sunbeam.example.com/hawaii Book now\n"
              "Sunbeam Travel, PO Box 4410, Honolulu, HI 96812\n"
              "To stop receiving these offers, unsubscribe here: https://sunbeam.example.com/optout",
         label="AD", optout="body", info=True),
    dict(file="dev-15-moto-salesman", split="dev", from_='"Tuấn Anh" <tuananh.sale@xemay.example.vn>',
         subject="Xe tay ga giảm giá 5 triệu, trả góp 0% tháng này",
         body="Chào anh/chị,\nTháng này đại lý giảm ngay 5.000.000đ cho các dòng xe tay ga, trả góp 0% lãi suất, "
              "tặng mũ bảo hiểm và phiếu bảo dưỡng 1 năm. Số lượng có hạn.\n"
              "Anh/chị quan tâm vui lòng gọi ngay Tuấn Anh 0912 345 678 để được báo giá tốt nhất.",
         label="missing", optout="missing", info=False),
    dict(file="dev-16-bakery-signoff", split="dev", from_='"Bánh Ngọt Hoa Mai" <hoamai@banh.example.vn>',
         subject="[QC] Bánh trung thu Hoa Mai - mua 5 tặng 1",
         body="Mùa trung thu này, Hoa Mai ưu đãi mua 5 hộp tặng 1 hộp, giảm giá 15% cho đơn từ 1.000.000đ.\n"
              "LINK https://banh.example.vn/trungthu Đặt hàng ngay\n"
              "Tiệm Bánh Hoa Mai - Hotline: 0283 822 1234 - Email: datbanh@banh.example.vn\n"
              "Không muốn nhận thư? Hủy đăng ký: https://banh.example.vn/huy-dang-ky",
         label="QC", optout="body", info=True),
    dict(file="dev-17-webinar-uk", split="dev", from_='"Brightlane" <events@brightlane.example.co.uk>',
         subject="Save 30% on the Data Summit - early bird ends Friday",
         body="Early bird tickets for the Data Summit are 30% off until Friday: 2 days, 40 speakers, from 299 GBP.\n"
              "LINK https://brightlane.example.co.uk/summit Register now\n"
              "Brightlane Events, 7 Kingsway, London WC2B 6XF\n"
              "Unsubscribe: https://brightlane.example.co.uk/unsubscribe",
         headers=unsub("brightlane.example.co.uk"), label="missing", optout="header", info=True),
    dict(file="dev-18-florist-cta-en", split="dev", from_='"Rosa" <rosa@petals.example.com>',
         subject="Mother's Day roses 25% off",
         body="Hi there,\nOrder a dozen roses for Mother's Day and get 25% off, with free delivery in the city.\n"
              "Call now on +1 415 555 0142 to order - Rosa",
         label="missing", optout="missing", info=False),
    dict(file="dev-19-shoes-nodiac", split="dev", plain=True, from_='"Giay Viet" <khuyenmai@giayviet.example.vn>',
         subject="Giam gia 30% giay the thao, mua 2 tang 1 tat",
         body="Tuan nay Giay Viet giam gia 30% toan bo giay the thao, mua 2 tang 1 doi tat, freeship don tu 300.000d.\n"
              "LINK https://giayviet.example.vn/sale Mua ngay",
         label="missing", optout="missing", info=False),
    dict(file="dev-20-hotel-landline", split="dev", from_='"Khách sạn Sông Hàn" <datphong@songhan.example.vn>',
         subject="[QC] Ưu đãi mùa thu: giảm 30% giá phòng tại Đà Nẵng",
         body="Khách sạn Sông Hàn giảm 30% giá phòng hướng sông, tặng bữa sáng cho 2 người, áp dụng đến 30/11.\n"
              "LINK https://songhan.example.vn/mua-thu Đặt phòng ngay\n"
              "Khách sạn Sông Hàn - Bạch Đằng, Hải Châu, Đà Nẵng - ĐT (0236) 3822 555\n"
              "Từ chối nhận thư quảng cáo: https://songhan.example.vn/tu-choi",
         label="QC", optout="body", info=True),
    # ------------------------------------------------------------------ heldout
    dict(file="ho-01-airline", split="heldout", from_='"Sky Việt Airlines" <khuyenmai@skyviet.example.vn>',
         subject="[QC] Vé máy bay giá rẻ chỉ từ 99.000đ - bay khắp Việt Nam",
         body="Săn vé máy bay giá rẻ cùng Sky Việt: chỉ từ 99.000đ cho các chặng nội địa.\n"
              "Thời gian đặt vé: 0h-23h59 ngày 20/3. Số lượng vé có hạn.\nLINK https://skyviet.example.vn/sale Đặt vé ngay\n"
              "Công ty Cổ phần Hàng không Sky Việt, 200 Trường Sơn, Quận Tân Bình, TP HCM. Tổng đài: 1900 1100\n"
              "Hủy đăng ký nhận tin: https://skyviet.example.vn/unsubscribe",
         headers=unsub("skyviet.example.vn") + esp(), label="QC", optout="header", info=True),
    dict(file="ho-02-resort", split="heldout", html=True, from_='"Cát Trắng Resort" <booking@cattrang.example.vn>',
         subject="Nghỉ dưỡng 5 sao Nha Trang - ưu đãi 35% cho kỳ nghỉ hè",
         body="Cát Trắng Resort & Spa gửi tặng Quý khách ưu đãi đặc biệt: giảm 35% giá phòng, tặng bữa sáng và đưa đón sân bay.\n"
              "Áp dụng cho kỳ nghỉ từ 01/6 đến 31/8.\nLINK https://cattrang.example.vn/he Đặt phòng ngay\n"
              "Cát Trắng Resort & Spa - Trần Phú, TP Nha Trang, Khánh Hòa - 0258 3777 666\n"
              "LINK https://cattrang.example.vn/unsubscribe Unsubscribe",
         label="missing", optout="body", info=True),
    dict(file="ho-03-car", split="heldout", enc="Q", from_='"Ô tô Phương Nam" <sales@otophuongnam.example.vn>',
         subject="Lái thử xe mới - nhận quà tặng 20 triệu đồng",
         body="Ô tô Phương Nam ra mắt mẫu SUV mới. Đăng ký lái thử trong tháng 4 để nhận quà tặng trị giá 20 triệu đồng "
              "và hỗ trợ lãi suất ưu đãi 0% trong 12 tháng.\nGọi ngay 0912 345 678 để đặt lịch.",
         label="missing", optout="missing", info=False),
    dict(file="ho-04-insurance", split="heldout", from_='"Bảo hiểm An Tâm" <tuvan@antam.example.vn>',
         subject="[ QC ] Bảo hiểm sức khỏe An Tâm - giảm 15% phí năm đầu",
         body="Bảo vệ cả gia đình với gói bảo hiểm sức khỏe An Tâm. Giảm 15% phí năm đầu khi đăng ký trước 30/4.\n"
              "Tư vấn miễn phí 24/7.\nLINK https://antam.example.vn/suckhoe Nhận ưu đãi\n"
              "Tổng Công ty Bảo hiểm An Tâm, 5 Nguyễn Du, Hai Bà Trưng, Hà Nội, hotline 1800 6868\n"
              "Nếu không muốn nhận thêm thư, bấm vào đây để hủy đăng ký: https://antam.example.vn/huy-dang-ky",
         label="missing", seen="[ QC ]", optout="body", info=True),
    dict(file="ho-05-telco", split="heldout", from_='"Viễn thông Sao" <goicuoc@vtsao.example.vn>',
         subject="[QC] Gói data 5G 120GB chỉ 99k/tháng",
         body="Đăng ký ngay gói 5G120: 120GB data tốc độ cao chỉ 99k/tháng, miễn phí gọi nội mạng.\n"
              "Soạn DK 5G120 gửi 9123 hoặc bấm đăng ký.\nLINK https://vtsao.example.vn/5g Đăng ký ngay\n"
              "Tổng công ty Viễn thông Sao, 1 Phạm Hùng, Hà Nội, cskh@vtsao.example.vn\n"
              "Từ chối nhận thư quảng cáo: https://vtsao.example.vn/tu-choi",
         headers=esp("Getfly CRM"), label="QC", optout="body", info=True),
    dict(file="ho-06-supermarket", split="heldout", enc="utf8", from_='"Siêu thị Phố Xanh" <tin@phoxanh.example.vn>',
         subject="Giá sốc cuối tuần tại Phố Xanh: thịt, cá, rau củ giảm đến 30%",
         body="Giá sốc cuối tuần: ba chỉ heo 129.000đ/kg, cá hồi 399.000đ/kg, rau củ giảm đến 30%.\n"
              "Mua 2 tặng 1 nước giặt, combo gia vị chỉ 59.000đ.\nLINK https://phoxanh.example.vn/tuan-nay Xem chi tiết\n"
              "Siêu thị Phố Xanh - 300 Cộng Hòa, Tân Bình, TP HCM, 028 3811 2233\n"
              "Hủy đăng ký: https://phoxanh.example.vn/unsubscribe",
         headers=unsub("phoxanh.example.vn"), label="missing", optout="header", info=True),
    dict(file="ho-07-furniture-nfd", split="heldout", nfd=True, from_='"Nội thất Gỗ Việt" <shop@goviet.example.vn>',
         subject="Xả kho nội thất gỗ - giảm giá đến 60%",
         body="Xả kho cuối năm: bàn ăn, tủ quần áo, giường gỗ sồi giảm giá đến 60%.\n"
              "Miễn phí vận chuyển nội thành, bảo hành 5 năm.\nLINK https://goviet.example.vn/xa-kho Mua ngay\n",
         label="missing", optout="missing", info=False),
    dict(file="ho-08-phone-preorder", split="heldout", from_='"DiDong24" <hello@didong24.example.vn>',
         subject="[QC] Đặt trước điện thoại mới - ưu đãi 2 triệu và trả góp 0%",
         body="Đặt trước điện thoại mới nhất tại DiDong24 để nhận ưu đãi 2 triệu, trả góp 0% và quà tặng tai nghe.\n"
              "LINK https://didong24.example.vn/dat-truoc Đặt trước ngay\n"
              "Công ty TNHH DiDong24, 77 Hai Bà Trưng, Quận 1, TP HCM, 1800 2424\n"
              "Hủy đăng ký nhận tin tại https://didong24.example.vn/huy",
         headers=unsub("didong24.example.vn"), label="QC", optout="header", info=True),
    dict(file="ho-09-restaurant", split="heldout", enc="B", from_='"Nhà hàng Bếp Quê" <datban@bepque.example.vn>',
         subject="Khai trương chi nhánh mới - giảm 20% toàn bộ thực đơn",
         body="Bếp Quê khai trương chi nhánh mới tại Thảo Điền! Giảm 20% toàn bộ thực đơn trong tuần đầu, "
              "tặng món tráng miệng cho bàn từ 4 người.\nĐặt bàn: 0903 456 789",
         label="missing", optout="missing", info=False),
    dict(file="ho-10-gym-en", split="heldout", enc="utf8", from_='"FitZone" <join@fitzone.example.com>',
         subject="Join FitZone this month: 50% off your first 3 months",
         body="New year, new you. Join FitZone before March 31 and get 50% off your first three months.\n"
              "Free personal training session included. Limited time offer.\nLINK https://fitzone.example.com/join Join now\n"
              "FitZone LLC, 42 Elm Street, Austin, TX 78701, (512) 555-0147\n"
              "To stop receiving these emails, unsubscribe here: https://fitzone.example.com/unsubscribe",
         headers=["X-Mailer: Klaviyo"], label="missing", optout="body", info=True),
    dict(file="ho-11-tet", split="heldout", from_='"Bánh kẹo Phúc Lộc" <tet@phucloc.example.vn>',
         subject="[QC] Quà Tết Phúc Lộc - chiết khấu 15% cho doanh nghiệp",
         body="Hộp quà Tết Phúc Lộc 2025: bánh mứt, trà, hạt cao cấp. Chiết khấu 15% cho đơn doanh nghiệp từ 20 hộp.\n"
              "Giá chỉ từ 450.000đ/hộp, giao hàng miễn phí toàn quốc.\nLINK https://phucloc.example.vn/tet Đặt hàng ngay\n"
              "Công ty Cổ phần Bánh kẹo Phúc Lộc, KCN Quang Minh, Hà Nội. ĐT 024 3818 0000\n"
              "Ngừng nhận thư: https://phucloc.example.vn/ngung-nhan",
         label="QC", optout="body", info=True),
    dict(file="ho-12-blackfriday-en", split="heldout", html=True, from_='"Urban Threads" <style@urbanthreads.example.com>',
         subject="Black Friday starts now: 70% off everything",
         body="BLACK FRIDAY IS HERE\nUp to 70% off everything, sitewide. Doorbusters from $9.99.\n"
              "Free shipping, no minimum. While supplies last.\nLINK https://urbanthreads.example.com/bf Shop now\n"
              "Urban Threads Inc., 1200 Broadway, New York, NY 10001\nLINK https://urbanthreads.example.com/unsubscribe Unsubscribe",
         headers=["X-Mailer: Mailchimp Mailer"] + unsub("urbanthreads.example.com"), label="missing", optout="header", info=True),
    dict(file="ho-13-flashsale", split="heldout", enc="Q", from_='"Chợ Online" <no-reply@choonline.example.vn>',
         subject="⚡ Flash sale 12.12 - voucher giảm 100k, freeship toàn quốc",
         body="Flash sale 12.12 bắt đầu lúc 0h! Hàng ngàn sản phẩm giá sốc, voucher giảm 100k, freeship toàn quốc.\n"
              "Săn ngay kẻo lỡ.\nLINK https://choonline.example.vn/1212 Săn ngay\n",
         headers=unsub("choonline.example.vn") + ["Feedback-ID: 1212:flash:choonline", "X-Campaign: 1212-flash"],
         label="missing", optout="header", info=False),
    dict(file="ho-14-apartment", split="heldout", from_='"Green Park Residence" <duan@greenpark.example.vn>',
         subject="[QC] Green Park Residence mở bán tòa A - chiết khấu 8%",
         body="Chính thức mở bán tòa A dự án Green Park Residence, giá chỉ từ 2,5 tỷ/căn 2 phòng ngủ.\n"
              "Chiết khấu 8%, hỗ trợ vay 70%, miễn phí quản lý 2 năm.\nLINK https://greenpark.example.vn Đăng ký tham quan\n"
              "Công ty Cổ phần Đầu tư Green Park, tầng 9, 72 Lê Thánh Tôn, Quận 1, TP HCM, 0966 888 111\n"
              "Bạn có thể từ chối nhận thư tại https://greenpark.example.vn/tu-choi-nhan",
         label="QC", optout="body", info=True),
    dict(file="ho-15-credit-cashback", split="heldout", from_='"Ngân hàng Phương Đông" <promo@phuongdongbank.example.vn>',
         subject="Hoàn tiền đến 1 triệu khi chi tiêu bằng thẻ Phương Đông",
         body="Từ 1/4 đến 30/4, chủ thẻ Phương Đông được hoàn tiền 5%, tối đa 1 triệu đồng, khi mua sắm online.\n"
              "Ưu đãi áp dụng cho chủ thẻ mới mở trong tháng. Mở thẻ ngay trên ứng dụng.\n"
              "Ngân hàng TMCP Phương Đông, 22 Ngô Quyền, Hà Nội - 1800 5588\n"
              "Để không nhận thư ưu đãi, hủy đăng ký tại https://phuongdongbank.example.vn/unsubscribe",
         headers=["X-Mailer: Salesforce Marketing Cloud"], label="missing", optout="body", info=True),
    dict(file="ho-16-ewallet", split="heldout", enc="B", from_='"Ví Mây" <uudai@vimay.example.vn>',
         subject="[AD] Nạp điện thoại nhận ngay 50% hoàn tiền",
         body="Chỉ trong tuần này: nạp tiền điện thoại qua Ví Mây nhận hoàn tiền 50%, tối đa 20k.\n"
              "Mời bạn bè nhận thêm voucher 30k.\nLINK https://vimay.example.vn/uu-dai Nhận ưu đãi\n"
              "Công ty Cổ phần Ví Mây, 15 Duy Tân, Cầu Giấy, Hà Nội, hotro@vimay.example.vn\n"
              "Hủy đăng ký nhận tin: https://vimay.example.vn/huy",
         headers=unsub("vimay.example.vn"), label="AD", optout="header", info=True),
    dict(file="ho-17-bookstore-plain", split="heldout", plain=True, from_='"Nha sach Tri Thuc" <sach@trithuc.example.vn>',
         subject="Tuần lễ sách - giảm giá 25% toàn bộ sách ngoại văn",
         body="Tuần lễ sách tại Tri Thức: giảm giá 25% toàn bộ sách ngoại văn, mua 2 tặng 1 sách thiếu nhi.\n"
              "Miễn phí vận chuyển cho đơn từ 250.000đ.\nLINK https://trithuc.example.vn/sach Mua ngay\n",
         label="missing", optout="missing", info=False),
    dict(file="ho-18-pharmacy", split="heldout", from_='"Nhà thuốc An Khang" <khuyenmai@ankhang.example.vn>',
         subject="Ưu đãi tháng 5: giảm 20% vitamin và thực phẩm chức năng",
         body="Nhà thuốc An Khang giảm 20% vitamin, thực phẩm chức năng. Tặng máy đo huyết áp cho đơn từ 2 triệu.\n"
              "LINK https://ankhang.example.vn/thang5 Mua ngay\n"
              "Chuỗi nhà thuốc An Khang - Công ty TNHH Dược An Khang, 18 Võ Văn Tần, Quận 3, TP HCM\n"
              "Hủy đăng ký: https://ankhang.example.vn/unsubscribe",
         headers=unsub("ankhang.example.vn") + ["Precedence: bulk"], label="missing", optout="header", info=True),
    dict(file="ho-19-travel-ad", split="heldout", from_='"Hành Trình Việt" <tour@hanhtrinh.example.vn>',
         subject="[AD] Tour Nhật Bản mùa hoa anh đào - giảm 5 triệu",
         body="Tour Nhật Bản 6 ngày 5 đêm mùa hoa anh đào: Tokyo - Fuji - Kyoto - Osaka.\n"
              "Giảm ngay 5 triệu cho khách đặt trước 15/2, giá chỉ từ 29.900.000đ.\nLINK https://hanhtrinh.example.vn/nhat Đặt tour\n"
              "Công ty TNHH Lữ hành Hành Trình Việt, 33 Phan Chu Trinh, Hà Nội, 024 3933 4455, info@hanhtrinh.example.vn\n"
              "Unsubscribe: https://hanhtrinh.example.vn/unsubscribe",
         label="AD", optout="body", info=True),
    dict(file="ho-20-html-base64", split="heldout", html=True, from_='"Giày Thể Thao Nhanh" <sale@giaynhanh.example.vn>',
         subject="Sale off 50% giày chạy bộ - chỉ 48 giờ",
         body="SALE OFF 50% GIÀY CHẠY BỘ\nChỉ trong 48 giờ, giá chỉ từ 690.000đ.\nLINK https://giaynhanh.example.vn/sale Mua ngay\n"
              "Shop Giày Nhanh, 101 Láng Hạ, Đống Đa, Hà Nội - 0977 123 456\n"
              "LINK https://giaynhanh.example.vn/unsubscribe Hủy đăng ký",
         headers=["X-Mailer: Sendinblue"], label="missing", optout="body", info=True),
    dict(file="ho-21-school-nodiac", split="heldout", plain=True, enc="utf8", from_="<tuyensinh@laptrinh.example.vn>",
         subject="Khóa học lập trình - ưu đãi học phí 40% tháng này",
         body="Khai giảng khóa học lập trình web tháng 6. Ưu đãi học phí 40% cho 30 bạn đăng ký đầu tiên, "
              "học thử miễn phí.\nĐăng ký ngay: https://laptrinh.example.vn/dang-ky",
         label="missing", optout="missing", info=False),
    dict(file="ho-22-coffee-nearmiss", split="heldout", from_='"Cà phê Núi" <hello@caphenui.example.vn>',
         subject="QC - Cà phê Núi mua 1 tặng 1 mỗi thứ Hai",
         body="Mỗi thứ Hai, Cà phê Núi mua 1 tặng 1 cho tất cả đồ uống. Áp dụng tại mọi chi nhánh.\n"
              "Công ty TNHH Cà phê Núi, 5 Pasteur, Quận 1, TP HCM, 0988 000 111\n"
              "Từ chối nhận thư: https://caphenui.example.vn/tu-choi",
         label="missing", seen="QC -", optout="body", info=True),
    dict(file="ho-23-hosting-en", split="heldout", enc="Q", from_='"HostPro" <offers@hostpro.example.com>',
         subject="Special offer: web hosting from $1.99/month",
         body="Launch your website today. Shared hosting from $1.99/month, free domain for the first year, "
              "free SSL. Save up to 75% with a 3-year plan.\nLINK https://hostpro.example.com/offer Get started\n"
              "HostPro Corp, 77 Harbor Way, Seattle, WA 98101, sales@hostpro.example.com\n"
              "Unsubscribe or manage your email preferences: https://hostpro.example.com/preferences",
         headers=unsub("hostpro.example.com") + ["X-Campaign-Id: spring-hosting"], label="missing", optout="header", info=True),
    dict(file="ho-24-fashion-nfd-plain", split="heldout", nfd=True, enc="Q", from_='"Mây Việt" <news@mayviet.example.vn>',
         subject="[QC] Bộ sưu tập mới hè 2024 - ưu đãi 30% cho thành viên",
         body="Bộ sưu tập mới hè 2024 đã có mặt. Thành viên Mây Việt được ưu đãi 30% trong tuần ra mắt.\n"
              "LINK https://mayviet.example.vn/he-2024 Khám phá ngay\n" + F_SHOP +
              "\nHủy đăng ký: https://mayviet.example.vn/unsubscribe",
         headers=esp() + unsub("mayviet.example.vn"), label="QC", optout="header", info=True),
]

NONADS = [
    # ------------------------------------------------------------------ dev
    dict(file="dev-01-order-confirm", split="dev", from_='"Chợ Online" <donhang@choonline.example.vn>',
         subject="Xác nhận đơn hàng #CO-558812",
         body="Chào An,\nCảm ơn bạn đã đặt hàng. Đơn hàng của bạn đã được xác nhận.\n"
              "Mã đơn hàng: CO-558812\n1 x Nồi chiên không dầu 5L - 1.290.000đ\n1 x Chảo chống dính - 350.000đ\n"
              "Phí vận chuyển: 0đ (miễn phí vận chuyển)\nTổng cộng: 1.640.000đ\nThanh toán khi nhận hàng.\n"
              "Xem đơn hàng: https://choonline.example.vn/don-hang/CO-558812"),
    dict(file="dev-02-otp", split="dev", enc="utf8", from_='"Ngân hàng Sao Mai" <otp@saomaibank.example.vn>',
         subject="Mã OTP xác thực giao dịch",
         body="Mã OTP của Quý khách là 482913. Mã có hiệu lực trong 3 phút.\n"
              "Tuyệt đối không chia sẻ mã OTP cho bất kỳ ai, kể cả nhân viên ngân hàng."),
    dict(file="dev-03-balance", split="dev", from_='"Sao Mai Bank" <thongbao@saomaibank.example.vn>',
         subject="Thông báo biến động số dư tài khoản",
         body="Tài khoản 0123456789 +5.000.000 VND lúc 10:32 12/03/2024.\nSố dư khả dụng: 12.450.000 VND.\n"
              "Nội dung: NGUYEN VAN B chuyen tien an trua.\nHotline hỗ trợ 1900 5454 13."),
    dict(file="dev-04-discussion-list", split="dev", enc="utf8", from_='"Trần Minh" <minh@example.org>',
         subject="Re: [python-vn] Nên chọn VPS nào giá rẻ?",
         body="Mình đang dùng VPS 2 core giá khoảng 150k/tháng, chạy Django ổn.\n"
              "Bên kia có giảm giá 20% năm đầu nhưng hỗ trợ kém lắm.\n> Có ai dùng bên nào tốt không?\n"
              "--\npython-vn mailing list\nhttps://lists.example.org/mailman/listinfo/python-vn",
         headers=["List-Id: Python Vietnam <python-vn.lists.example.org>",
                  "List-Unsubscribe: <https://lists.example.org/mailman/options/python-vn>, <mailto:python-vn-request@lists.example.org?subject=unsubscribe>",
                  "Precedence: list", "In-Reply-To: <abc@example.org>"]),
    dict(file="dev-05-government", split="dev", from_='"Sở Thông tin và Truyền thông" <vanthu@stttt.example.gov.vn>',
         subject="Thông báo về việc thực hiện Nghị định 91/2020/NĐ-CP về chống thư rác",
         body="Căn cứ Nghị định số 91/2020/NĐ-CP ngày 14/8/2020 của Chính phủ về chống tin nhắn rác, thư điện tử rác,\n"
              "Sở Thông tin và Truyền thông đề nghị các doanh nghiệp khi gửi thư điện tử quảng cáo phải gắn nhãn [QC] "
              "ở đầu tiêu đề, có chức năng từ chối nhận quảng cáo, và không gửi quá 3 thư mỗi ngày cho một địa chỉ.\n"
              "Các thư khuyến mại, giảm giá không đúng quy định sẽ bị xử lý theo pháp luật.\nTrân trọng."),
    dict(file="dev-06-fwd-ad", split="dev", enc="B", from_='"Lan Phạm" <lan.pham@example.com>',
         subject="Fwd: [QC] Siêu sale cuối tuần - giảm giá đến 50% toàn bộ áo khoác",
         body="An ơi, cái áo này hợp với cậu lắm, đi mua chung không?\n\n---------- Forwarded message ---------\n"
              "From: Mây Việt <news@mayviet.example.vn>\nSubject: [QC] Siêu sale cuối tuần\n\n"
              "Tuần này Mây Việt giảm giá đến 50% cho toàn bộ áo khoác. Áo khoác dạ chỉ còn 599.000đ.\nMua ngay"),
    dict(file="dev-07-news-newsletter", split="dev", from_='"Báo Sáng" <bantin@baosang.example.vn>',
         subject="Bản tin sáng 12/3: Quốc hội thảo luận luật đất đai sửa đổi",
         body="Điểm tin sáng nay:\n- Quốc hội thảo luận dự thảo luật đất đai sửa đổi.\n- Giá xăng giảm 500 đồng/lít từ 15h chiều nay.\n"
              "- Thời tiết Hà Nội: rét đậm, nhiệt độ thấp nhất 12 độ.\nĐọc tiếp: https://baosang.example.vn\n"
              "Bạn nhận bản tin vì đã đăng ký. Hủy đăng ký: https://baosang.example.vn/unsubscribe",
         headers=esp() + unsub("baosang.example.vn")),
    dict(file="dev-08-personal-prices", split="dev", enc="utf8", from_='"Hùng" <hung.le@example.com>',
         subject="Laptop mới",
         body="Chào An,\nHôm qua mình mua được cái laptop giá 15 triệu, đang giảm giá nên rẻ hơn 2 triệu so với tháng trước.\n"
              "Cuối tuần qua nhà mình chơi nhé, mình nấu lẩu.\nHùng"),
    dict(file="dev-09-electricity-bill", split="dev", from_='"Điện lực Thành phố" <hoadon@dienluc.example.vn>',
         subject="Thông báo hóa đơn tiền điện tháng 02/2024",
         body="Kính gửi khách hàng mã PE01000123456,\nHóa đơn tiền điện kỳ tháng 02/2024: 856.420 đồng (đã gồm VAT).\n"
              "Chỉ số cũ 10234, chỉ số mới 10521, điện năng tiêu thụ 287 kWh.\nHạn thanh toán: 25/03/2024.\n"
              "Tra cứu hóa đơn điện tử: https://dienluc.example.vn/tra-cuu"),
    dict(file="dev-10-password-reset", split="dev", from_='"CloudNote" <no-reply@cloudnote.example.com>',
         subject="Reset your CloudNote password",
         body="Someone asked to reset your password. Click here to reset your password: "
              "https://cloudnote.example.com/reset?t=98af\nIf this wasn't you, ignore this email."),
    dict(file="dev-11-shipping", split="dev", enc="Q", from_='"Giao Nhanh" <thongbao@giaonhanh.example.vn>',
         subject="Đơn hàng của bạn đang được giao",
         body="Đơn hàng CO-558812 đang được giao đến bạn.\nMã vận đơn: GN12345678VN. Dự kiến giao: 14/03.\n"
              "Vui lòng chuẩn bị 1.640.000đ nếu thanh toán khi nhận hàng.\nTheo dõi: https://giaonhanh.example.vn/track/GN12345678VN"),
    dict(file="dev-12-work-project", split="dev", from_='"Phạm Thu" <thu.pham@congty.example.vn>',
         subject="Ngân sách dự án Q2",
         body="Chào anh An,\nEm gửi bảng ngân sách dự án quý 2: chi phí thiết kế 120 triệu, marketing 200 triệu "
              "(trong đó có chương trình khuyến mãi cho khách hàng mới).\nAnh xem và góp ý giúp em trước thứ Sáu nhé.\nThu"),
    # ------------------------------------------------------------------ heldout
    dict(file="ho-01-txn-alert-en", split="heldout", from_='"Harbor Bank" <alerts@harborbank.example.com>',
         subject="Transaction alert: $245.00 at GROCERY MART",
         body="A transaction of $245.00 was made with your card ending 4821 at GROCERY MART on Mar 12.\n"
              "Available balance: $3,120.55.\nIf you did not make this transaction, call us at (800) 555-0199."),
    dict(file="ho-02-shipped-en", split="heldout", from_='"VoltMart" <orders@voltmart.example.com>',
         subject="Your order #VM-20931 has shipped",
         body="Good news! Your order has shipped.\nWireless earbuds x1 - $49.99\nShipping: Free\nOrder total: $53.62\n"
              "Tracking number: 1Z999AA10123456784\nTrack your package: https://voltmart.example.com/track"),
    dict(file="ho-03-eticket", split="heldout", enc="B", from_='"Sky Việt Airlines" <eticket@skyviet.example.vn>',
         subject="Xác nhận đặt chỗ - Mã đặt chỗ ABC123",
         body="Cảm ơn Quý khách đã chọn Sky Việt.\nMã đặt chỗ: ABC123\nHà Nội (HAN) - TP HCM (SGN), 20/03/2024 07:00\n"
              "Hành khách: NGUYEN VAN AN\nTổng tiền đã thanh toán: 1.850.000 VND\nVui lòng có mặt tại sân bay trước 90 phút."),
    dict(file="ho-04-hotel-booking", split="heldout", from_='"Cát Trắng Resort" <reservation@cattrang.example.vn>',
         subject="Xác nhận đặt phòng #R-7781",
         body="Kính gửi anh An,\nCát Trắng Resort xác nhận đặt phòng của anh:\nNhận phòng 01/06, trả phòng 04/06, phòng Deluxe hướng biển.\n"
              "Giá: 2.400.000đ/đêm, tổng 7.200.000đ, đã thanh toán 50%.\nMọi thay đổi xin liên hệ 0258 3777 666."),
    dict(file="ho-05-telco-bill", split="heldout", from_='"Viễn thông Sao" <hoadon@vtsao.example.vn>',
         subject="Thông báo cước dịch vụ tháng 2/2024",
         body="Kính gửi Quý khách thuê bao 0912xxx678,\nTổng cước tháng 2/2024: 245.000đ (gói cước 200.000đ, phát sinh 45.000đ).\n"
              "Hạn thanh toán: 20/03/2024. Thanh toán qua ứng dụng hoặc tại cửa hàng."),
    dict(file="ho-06-school-fee", split="heldout", enc="utf8", from_='"Trường Tiểu học Hòa Bình" <vanphong@thhoabinh.example.edu.vn>',
         subject="Thông báo họp phụ huynh và các khoản thu học kỳ II",
         body="Kính gửi Quý phụ huynh,\nNhà trường tổ chức họp phụ huynh lúc 8h sáng Chủ nhật 17/3.\n"
              "Các khoản thu học kỳ II: học phí bán trú 1.200.000đ, bảo hiểm y tế 680.000đ.\nTrân trọng, Ban giám hiệu."),
    dict(file="ho-07-meeting", split="heldout", from_='"Nguyễn Hoa" <hoa.nguyen@congty.example.vn>',
         subject="Mời họp triển khai chương trình bán hàng quý 3",
         body="Kính gửi các anh chị,\nMời anh chị họp lúc 14h thứ Tư tại phòng 302 để thống nhất kế hoạch bán hàng quý 3, "
              "bao gồm mức giảm giá cho đại lý và ngân sách quảng cáo.\nHoa"),
    dict(file="ho-08-payroll", split="heldout", from_='"Phòng Nhân sự" <hr@congty.example.vn>',
         subject="Phiếu lương tháng 02/2024",
         body="Chào anh An,\nPhiếu lương tháng 02/2024 của anh: lương cơ bản 18.000.000đ, phụ cấp 2.000.000đ, "
              "khấu trừ bảo hiểm 2.100.000đ, thực nhận 17.900.000đ.\nMật khẩu mở tệp là ngày sinh của anh."),
    dict(file="ho-09-ride-receipt", split="heldout", enc="Q", from_='"Xe Nhanh" <receipt@xenhanh.example.vn>',
         subject="Biên lai chuyến đi của bạn",
         body="Cảm ơn bạn đã đi cùng Xe Nhanh.\nChuyến đi: Quận 1 - Sân bay Tân Sơn Nhất, 12/03 07:10\n"
              "Cước phí: 145.000đ, khuyến mãi: -20.000đ, tổng thanh toán: 125.000đ.\nĐánh giá tài xế trong ứng dụng."),
    dict(file="ho-10-statement", split="heldout", from_='"Ngân hàng Phương Đông" <saoke@phuongdongbank.example.vn>',
         subject="Sao kê thẻ tín dụng kỳ 02/2024",
         body="Kính gửi Quý khách,\nSao kê thẻ tín dụng kỳ 02/2024 đính kèm. Dư nợ cuối kỳ: 8.420.000 VND, "
              "số tiền thanh toán tối thiểu: 421.000 VND, hạn thanh toán 05/03/2024."),
    dict(file="ho-11-technews-en", split="heldout", from_='"Tech Weekly" <newsletter@techweekly.example.com>',
         subject="Tech Weekly: chip shortages ease, new open-source model released",
         body="Top stories this week:\n- Chip shortages ease as new fabs come online.\n- A new open-source language model was released.\n"
              "- Regulators look into app store fees.\nRead more: https://techweekly.example.com/issues/212\n"
              "You are receiving this newsletter because you signed up. Unsubscribe: https://techweekly.example.com/unsubscribe",
         headers=["X-Mailer: Mailchimp Mailer"] + unsub("techweekly.example.com")),
    dict(file="ho-12-github", split="heldout", from_='"Minh Tran" <notifications@git.example.com>',
         subject="Re: [acme/widget] Fix price rounding in checkout (#1234)",
         body="@an-nguyen the discount of 10% was applied twice when the price was $19.99; this PR fixes the rounding.\n"
              "--\nReply to this email directly or view it on the web: https://git.example.com/acme/widget/pull/1234\n"
              "You are receiving this because you were mentioned. Unsubscribe: https://git.example.com/notifications/unsubscribe",
         headers=["List-Id: acme/widget <widget.acme.git.example.com>",
                  "List-Unsubscribe: <https://git.example.com/notifications/unsubscribe/x>", "In-Reply-To: <pr-1234@git.example.com>"]),
    dict(file="ho-13-digest", split="heldout", enc="utf8", from_='"vn-sysadmin" <vn-sysadmin@lists.example.org>',
         subject="vn-sysadmin Digest, Vol 42, Issue 7",
         body="Today's Topics:\n1. Re: Mua ổ cứng SSD ở đâu giá tốt (Long)\n2. Cấu hình Postfix chống thư rác (Bình)\n"
              "Message 1: Mình mua SSD 1TB giá 1.990.000đ, đang có khuyến mãi tặng cáp.\n"
              "Message 2: Nhớ bật SPF và DKIM.\n_______________\nvn-sysadmin mailing list\nTo unsubscribe: https://lists.example.org/vn-sysadmin",
         headers=["List-Id: <vn-sysadmin.lists.example.org>", "Precedence: list",
                  "List-Unsubscribe: <mailto:vn-sysadmin-request@lists.example.org?subject=unsubscribe>"]),
    dict(file="ho-14-tax-notice", split="heldout", from_='"Chi cục Thuế Quận 1" <thongbao@thue.example.gov.vn>',
         subject="Thông báo về việc quyết toán thuế thu nhập cá nhân năm 2023",
         body="Căn cứ Luật Quản lý thuế và Thông tư 80/2021/TT-BTC, Chi cục Thuế đề nghị người nộp thuế hoàn thành quyết toán "
              "thuế thu nhập cá nhân năm 2023 trước 02/5/2024.\nMẫu tờ khai tại https://thue.example.gov.vn."),
    dict(file="ho-15-re-apartment", split="heldout", enc="B", from_='"Bố" <bo.nguyen@example.com>',
         subject="Re: Căn hộ Green Park",
         body="Con à,\nBố xem rồi, căn 2 phòng ngủ giá 2,5 tỷ là hơi cao so với khu đó. Họ nói chiết khấu 8% nhưng phải trả nhanh.\n"
              "Cuối tuần bố con mình đi xem nhà mẫu rồi tính.\n> Bố ơi con gửi bố thông tin dự án.",
         headers=["In-Reply-To: <con-123@example.com>"]),
    dict(file="ho-16-fwd-sale", split="heldout", from_='"Mai" <mai.tran@example.com>',
         subject="Fwd: Black Friday starts now: 70% off everything",
         body="Look, they have those boots you wanted for $40!\n\nBegin forwarded message:\n\nFrom: Urban Threads\n"
              "Subject: Black Friday starts now: 70% off everything\nUp to 70% off everything. Shop now."),
    dict(file="ho-17-family-tet", split="heldout", from_='"Chị Hai" <chihai@example.com>',
         subject="Đi chợ Tết",
         body="Em ơi,\nChị đã mua bánh chưng, giò lụa hết khoảng 2 triệu. Siêu thị đang giảm giá nên chị mua thêm thùng bia.\n"
              "Mùng 2 cả nhà về quê nhé.\nChị Hai"),
    dict(file="ho-18-insurance-renewal", split="heldout", from_='"Bảo hiểm An Tâm" <hopdong@antam.example.vn>',
         subject="Thông báo tái tục hợp đồng bảo hiểm số AT-2023-8812",
         body="Kính gửi Quý khách,\nHợp đồng bảo hiểm sức khỏe số AT-2023-8812 sẽ hết hạn ngày 30/04/2024.\n"
              "Phí tái tục năm 2024: 6.500.000đ. Hạn thanh toán: 25/04/2024.\nTra cứu hợp đồng: https://antam.example.vn/hop-dong"),
    dict(file="ho-19-otp-en", split="heldout", enc="utf8", from_='"HostPro" <security@hostpro.example.com>',
         subject="Your HostPro verification code",
         body="Your verification code is 731904. It expires in 10 minutes.\nDo not share this code with anyone."),
    dict(file="ho-20-security-alert", split="heldout", from_='"Ví Mây" <baomat@vimay.example.vn>',
         subject="Cảnh báo đăng nhập từ thiết bị mới",
         body="Tài khoản Ví Mây của bạn vừa đăng nhập trên thiết bị mới (Samsung A54) lúc 22:14 11/03/2024.\n"
              "Nếu không phải bạn, hãy đổi mật khẩu ngay và gọi 1900 6000."),
    dict(file="ho-21-admission", split="heldout", from_='"Đại học Bách Khoa" <tuyensinh@bk.example.edu.vn>',
         subject="Kết quả xét tuyển đại học năm 2024",
         body="Chúc mừng thí sinh Nguyễn Văn An đã trúng tuyển ngành Khoa học máy tính.\n"
              "Học phí năm học 2024-2025: 28.500.000đ. Thí sinh xác nhận nhập học trước 30/8 tại https://bk.example.edu.vn/nhap-hoc."),
    dict(file="ho-22-volunteer", split="heldout", enc="Q", from_='"CLB Tình nguyện Xanh" <clb@tinhnguyenxanh.example.org>',
         subject="Mời tham gia ngày hội trồng cây Chủ nhật này",
         body="Chào các bạn,\nCLB Tình nguyện Xanh tổ chức ngày hội trồng cây tại công viên Gia Định lúc 7h Chủ nhật.\n"
              "Tham gia miễn phí, CLB chuẩn bị nước uống và găng tay. Đăng ký tại https://tinhnguyenxanh.example.org/dang-ky"),
    dict(file="ho-23-appointment", split="heldout", from_='"Phòng khám Đa khoa An Bình" <lichhen@anbinh.example.vn>',
         subject="Nhắc lịch khám ngày 15/03",
         body="Kính gửi anh An,\nAnh có lịch khám nội tổng quát lúc 9h00 ngày 15/03 với bác sĩ Lê Minh.\n"
              "Chi phí dự kiến 350.000đ. Vui lòng mang theo thẻ bảo hiểm y tế. Đổi lịch: 028 3999 8888."),
    dict(file="ho-24-subscription-receipt", split="heldout", from_='"CloudNote" <billing@cloudnote.example.com>',
         subject="Receipt for your CloudNote Pro subscription",
         body="Thanks for your payment.\nCloudNote Pro, monthly - $9.99\nTax - $0.80\nTotal charged: $10.79 to Visa ending 4821\n"
              "Invoice number: CN-2024-03-8812. View your invoice: https://cloudnote.example.com/billing"),
]

for _m in ADS + NONADS:  # `from` is a keyword: written from_ above
    _m["from"] = _m.pop("from_")
