"""The columns of the exported tables (CSV, XLSX) of the reports API and the pages: each a key of the
JSON rows and its Vietnamese header."""

from __future__ import annotations

Columns = tuple[tuple[str, str], ...]

FIGURE_COLUMNS: Columns = (
    ("indicator", "Mã chỉ tiêu"),
    ("name_vi", "Tên chỉ tiêu"),
    ("unit", "Đơn vị tính"),
    ("period", "Kỳ báo cáo"),
    ("scope", "Phạm vi"),
    ("value", "Giá trị"),
    ("agencies_reported", "Số đơn vị đã báo cáo"),
    ("agencies_expected", "Số đơn vị phải báo cáo"),
    ("aggregation_time", "Tổng hợp theo thời gian"),
    ("aggregation_agencies", "Tổng hợp theo đơn vị"),
)
AGENCY_FIGURE_COLUMNS: Columns = (
    ("agency", "Mã đơn vị"),
    ("agency_name", "Tên đơn vị"),
    ("indicator", "Mã chỉ tiêu"),
    ("name_vi", "Tên chỉ tiêu"),
    ("unit", "Đơn vị tính"),
    ("period", "Kỳ báo cáo"),
    ("value", "Giá trị"),
    ("months_reported", "Số tháng đã báo cáo"),
    ("must_report", "Phải báo cáo"),
)
BOARD_COLUMNS: Columns = (
    ("agency", "Mã đơn vị"),
    ("name_vi", "Tên đơn vị"),
    ("region", "Vùng"),
    ("kind", "Loại đơn vị"),
    ("period", "Kỳ báo cáo"),
    ("status_label", "Trạng thái"),
    ("deadline", "Hạn nộp"),
    ("first_submitted_at", "Thời điểm nộp lần đầu"),
    ("days_late", "Số ngày trễ hạn"),
    ("times_submitted", "Số lần nộp"),
)
RATE_COLUMNS: Columns = (
    ("period", "Kỳ báo cáo"),
    ("expected", "Số đơn vị phải báo cáo"),
    ("reported", "Số đơn vị đã báo cáo"),
    ("on_time", "Số đơn vị báo cáo đúng hạn"),
    ("reporting_rate", "Tỷ lệ báo cáo"),
    ("on_time_rate", "Tỷ lệ báo cáo đúng hạn"),
)
REPORT_VIEW_COLUMNS: Columns = (
    ("agency", "Mã đơn vị"),
    ("period", "Kỳ báo cáo"),
    ("indicator", "Mã chỉ tiêu"),
    ("value", "Giá trị"),
    ("revision", "Lần sửa"),
    ("actor", "Người nhập"),
    ("role", "Vai trò"),
    ("recorded_at", "Thời điểm ghi nhận"),
    ("position", "Vị trí trong nhật ký"),
)
