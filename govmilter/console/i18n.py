"""The console's words in Vietnamese (first) and English, and Vietnam's date format.

Every text a page shows is a key of :data:`TEXTS`; a missing key fails loudly in the tests
(``tests/console/test_i18n.py``) rather than showing a key to an official.
"""

from __future__ import annotations

import datetime as _dt

from govmilter.tools.incidents import VN_TZ

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

#: key -> (Vietnamese, English)
TEXTS: dict[str, tuple[str, str]] = {
    "app": ("Bảng điều khiển govmilter", "govmilter console"),
    "overview": ("Tổng quan", "Overview"),
    "incidents": ("Sự cố", "Incidents"),
    "held": ("Thư bị giữ", "Held mail"),
    "audit": ("Nhật ký kiểm tra", "Audit log"),
    "accounts": ("Tài khoản", "Accounts"),
    "login": ("Đăng nhập", "Log in"),
    "logout": ("Đăng xuất", "Log out"),
    "username": ("Tên đăng nhập", "User name"),
    "password": ("Mật khẩu", "Password"),
    "login_failed": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password."),
    "login_blocked": ("Sai quá nhiều lần. Thử lại sau {seconds} giây.",
                      "Too many wrong tries. Try again in {seconds} seconds."),
    "session_expired": ("Phiên làm việc đã hết hạn; vui lòng đăng nhập lại.",
                        "Your session has expired; please log in again."),
    "csrf": ("Biểu mẫu không hợp lệ hoặc đã hết hạn; tải lại trang và thử lại.",
             "The form is invalid or expired; reload the page and try again."),
    "forbidden": ("Tài khoản của bạn không có quyền này.",
                  "Your account may not do this."),
    "not_found": ("Không tìm thấy.", "Not found."),
    "role_viewer": ("người xem", "viewer"),
    "role_officer": ("cán bộ xử lý", "officer"),
    "role_admin": ("quản trị", "admin"),
    "today": ("Hôm nay", "Today"),
    "week": ("7 ngày qua", "Last 7 days"),
    "month": ("30 ngày qua", "Last 30 days"),
    "checked": ("Thư đã kiểm tra", "Messages checked"),
    "compliant": ("Tuân thủ", "Compliant"),
    "noncompliant": ("Không tuân thủ", "Non-compliant"),
    "to_webmail": ("Văn bản gửi tới webmail (người nhận)",
                   "Documents to webmail (recipients)"),
    "secret_stopped": ("Văn bản mật bị chặn", "Secret documents stopped"),
    "held_now": ("Đang giữ", "Held now"),
    "oldest_hold": ("Thư giữ lâu nhất", "Oldest hold"),
    "none": ("không có", "none"),
    "per_day": ("Thư mỗi ngày (30 ngày)", "Messages per day (30 days)"),
    "by_rule": ("Không tuân thủ theo quy tắc (30 ngày)", "Non-compliant by rule (30 days)"),
    "by_unit": ("Theo đơn vị (30 ngày)", "By unit (30 days)"),
    "unit": ("Đơn vị", "Unit"),
    "no_unit": ("Không thuộc đơn vị nào", "No unit"),
    "unit_invalid": ("mã đơn vị gồm chữ thường không dấu, chữ số, '-', '_' hoặc '.'; "
                     "'-' là không thuộc đơn vị nào",
                     "a unit id is lower-case letters, digits, '-', '_' or '.'; '-' is no unit"),
    "from_webmail": ("Văn bản nhận từ webmail (người nhận)",
                     "Documents from webmail (recipients)"),
    "time": ("Thời điểm", "Time"),
    "since": ("Từ ngày", "From"),
    "until": ("Đến ngày", "To"),
    "rule": ("Quy tắc", "Rule"),
    "action": ("Hành động", "Action"),
    "status": ("Trạng thái", "Status"),
    "sender": ("Người gửi", "Sender"),
    "recipients": ("Người nhận", "Recipients"),
    "subject": ("Tiêu đề", "Subject"),
    "doc_number": ("Số văn bản", "Document number"),
    "secrecy": ("Độ mật", "Secrecy"),
    "urgency": ("Độ khẩn", "Urgency"),
    "search": ("Tìm kiếm", "Search"),
    "search_hint": ("tiêu đề, người gửi, số văn bản, mã sự cố",
                    "subject, sender, document number, incident id"),
    "filter": ("Lọc", "Filter"),
    "clear": ("Bỏ lọc", "Clear"),
    "any": ("tất cả", "any"),
    "found": ("{total} sự cố", "{total} incidents"),
    "more_than": ("hơn {count}", "more than {count}"),
    "first_page": ("« Mới nhất", "« Newest"),
    "older": ("Cũ hơn »", "Older »"),
    "export_csv": ("Xuất CSV", "Export CSV"),
    "export_json": ("Xuất JSON", "Export JSON"),
    "no_incidents": ("Không có sự cố nào.", "No incidents."),
    "incident": ("Sự cố", "Incident"),
    "evidence": ("Dấu hiệu", "Evidence"),
    "document": ("Văn bản", "Document"),
    "doc_class": ("Loại", "Class"),
    "doc_kind": ("Loại văn bản", "Kind"),
    "issuer": ("Cơ quan ban hành", "Issuer"),
    "score": ("Điểm", "Score"),
    "attachments": ("Tệp đính kèm", "Attachments"),
    "name": ("Tên", "Name"),
    "size": ("Kích thước", "Size"),
    "digest": ("SHA-256", "SHA-256"),
    "history": ("Lịch sử", "History"),
    "actor": ("Người thực hiện", "By"),
    "reason": ("Lý do", "Reason"),
    "gateway": ("Máy chủ thư", "Gateway"),
    "queue_id": ("Mã hàng đợi", "Queue id"),
    "mode": ("Chế độ", "Mode"),
    "authenticated": ("đã xác thực", "authenticated"),
    "class": ("Lớp", "Class"),
    "removed": ("không được giao", "not delivered"),
    "delivered": ("được giao", "delivered"),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
    "headers": ("Tiêu đề thư (header)", "Headers"),
    "text": ("Nội dung đã trích xuất", "Extracted text"),
    "held_since": ("Giữ từ", "Held since"),
    "release": ("Cho đi", "Release"),
    "delete": ("Xoá", "Delete"),
    "reason_required": ("Phải ghi lý do.", "A reason is required."),
    "released_ok": ("Đã cho đi thư của sự cố {id}.", "Released the mail of incident {id}."),
    "deleted_ok": ("Đã xoá thư của sự cố {id}.", "Deleted the mail of incident {id}."),
    "no_held": ("Không có thư nào đang bị giữ.", "No mail is held."),
    "not_held": ("Thư này không (còn) bị giữ.", "This mail is not (or no longer) held."),
    "held_content_missing": (
        "Không đọc được thư trong hàng đợi giữ của Postfix.",
        "The message could not be read from Postfix's hold queue."),
    "quarantine_unavailable": (
        "Chưa cấu hình thao tác hàng đợi giữ (govmilter quarantine) trên máy chủ này.",
        "The hold-queue operations (govmilter quarantine) are not available on this server."),
    "view_held": ("Xem thư bị giữ", "View held mail"),
    "open_incident": ("Xem sự cố", "Open incident"),
    "details": ("Chi tiết", "Details"),
    "role": ("Vai trò", "Role"),
    "disabled": ("Đã khoá", "Disabled"),
    "enabled": ("Đang dùng", "Enabled"),
    "save": ("Lưu", "Save"),
    "disable": ("Khoá", "Disable"),
    "enable": ("Mở khoá", "Enable"),
    "add_account_hint": (
        "Tạo tài khoản trên máy chủ: govmilter console adduser TÊN --role viewer|officer|admin",
        "Create accounts on the server: govmilter console adduser NAME --role ROLE"),
    "changed": ("Đã lưu.", "Saved."),
    "cannot_change_self": ("Không thể tự khoá hoặc đổi vai trò của chính mình.",
                           "You cannot disable yourself or change your own role."),
    "created": ("Tạo lúc", "Created"),
    "detail": ("Chi tiết", "Detail"),
    "language": ("English", "Tiếng Việt"),
    "times_note": ("Giờ Việt Nam (UTC+7)", "Vietnam time (UTC+7)"),
    "status_open": ("đang mở", "open"),
    "status_released": ("đã cho đi", "released"),
    "status_deleted": ("đã xoá", "deleted"),
    "status_expired": ("hết hạn", "expired"),
    "action_tag": ("gắn nhãn", "tag"),
    "action_quarantine": ("giữ lại", "quarantine"),
    "action_reject": ("từ chối", "reject"),
    "action_accept": ("cho qua", "accept"),
    "mode_enforce": ("thực thi", "enforce"),
    "mode_monitor": ("giám sát (không thực thi)", "monitor (not carried out)"),
}


def translate(key: str, language: str, **values: object) -> str:
    """The text of ``key`` in ``language`` (Vietnamese unless ``en``), with ``values`` filled."""
    vi, en = TEXTS[key]
    text = en if language == "en" else vi
    return text.format(**values) if values else text


def term(prefix: str, value: str, language: str) -> str:
    """A stored code word (status, action, mode) in words, or the code itself if unknown."""
    key = f"{prefix}_{value}"
    return translate(key, language) if key in TEXTS else value


def vn_time(moment: _dt.datetime | None) -> str:
    """``dd/mm/yyyy HH:MM`` in Vietnam time ('' for None)."""
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M") if moment is not None else ""


def vn_date(moment: _dt.date) -> str:
    """``dd/mm`` of a day, for a chart's axis."""
    return moment.strftime("%d/%m")


def parse_vn_date(text: str) -> _dt.date | None:
    """A day typed as ``dd/mm/yyyy`` or given by a date input (``yyyy-mm-dd``); None if neither.
    """
    text = text.strip()
    for form in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return _dt.datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None


def start_of_vn_day(day: _dt.date) -> _dt.datetime:
    """The instant a Vietnam day begins."""
    return _dt.datetime.combine(day, _dt.time(), tzinfo=VN_TZ)
