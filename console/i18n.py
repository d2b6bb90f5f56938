"""The console's words in Chinese (the default) and English; error codes of the API too, so that
an operator reads a refusal in its own language (unknown codes show the API's message)."""

from __future__ import annotations

LANGS = ("zh", "en")
LANG_COOKIE = "promo_lang"

_T: dict[str, tuple[str, str]] = {
    "title": ("营销活动后台", "Promo back office"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "activities": ("活动", "Activities"),
    "new_wheel": ("新建大转盘", "New wheel"),
    "redeem": ("核销", "Redeem"),
    "members": ("会员查询", "Members"),
    "log": ("操作日志", "Action log"),
    "calendar": ("活动日历", "Calendar"),
    "reservations": ("预约", "Reservations"),
    "filter": ("筛选", "Filter"),
    "all": ("全部", "All"),
    "status": ("状态", "Status"),
    "type": ("类型", "Type"),
    "name": ("名称", "Name"),
    "search_name": ("按名称搜索", "Search by name"),
    "window": ("活动时间", "Window"),
    "starts_at": ("开始时间", "Starts"),
    "ends_at": ("结束时间", "Ends"),
    "timezone": ("时区", "Time zone"),
    "per_user_daily": ("每人每日次数", "Draws per member per day"),
    "next_page": ("下一页", "Next page"),
    "empty_activities": (
        "还没有活动。点击「新建大转盘」开始。",
        "No activities yet. Click \u201cNew wheel\u201d to start.",
    ),
    "empty": ("没有记录", "Nothing here"),
    "draft": ("草稿", "draft"),
    "live": ("进行中", "live"),
    "paused": ("已暂停", "paused"),
    "ended": ("已结束", "ended"),
    "prizes": ("奖品", "Prizes"),
    "prize_type": ("奖品类型", "Prize type"),
    "weight": ("权重", "Weight"),
    "stock": ("库存", "Stock"),
    "value_cny": ("价值(元)", "Value (CNY)"),
    "odds": ("中奖概率", "Odds"),
    "add_prize": ("添加奖品", "Add prize"),
    "remove": ("删除", "Remove"),
    "expected_cost": ("每千次抽奖预期成本(元)", "Expected cost per 1,000 draws (CNY)"),
    "save": ("保存", "Save"),
    "saved": ("已保存", "Saved"),
    "create": ("创建", "Create"),
    "edit": ("编辑", "Edit"),
    "clone": ("复制", "Clone"),
    "publish": ("发布", "Publish"),
    "pause": ("暂停", "Pause"),
    "resume": ("恢复", "Resume"),
    "end": ("结束", "End"),
    "delete": ("删除", "Delete"),
    "confirm_publish": (
        "确认发布此活动？发布后奖品和概率不可修改。",
        "Publish this activity? Prizes and odds are frozen once live.",
    ),
    "confirm_end": ("确认结束此活动？结束后不可恢复。", "End this activity? This cannot be undone."),
    "confirm_delete": ("确认删除此草稿？", "Delete this draft?"),
    "dashboard": ("实时看板", "Live dashboard"),
    "actions_per_minute": ("每分钟操作数", "Actions per minute"),
    "top_refusals": ("主要拒绝原因", "Top refusal codes"),
    "audit_backlog": ("审计积压", "Audit backlog"),
    "left": ("剩余", "left"),
    "granted": ("已发放", "granted"),
    "counters": ("计数", "Counters"),
    "code_or_qr": ("核销码或二维码内容", "Code or QR payload"),
    "store": ("门店", "Store"),
    "activity": ("活动", "Activity"),
    "redeem_ok": ("核销成功", "Redeemed"),
    "redeem_refused": ("核销失败", "Refused"),
    "member_id": ("会员ID", "Member id"),
    "lookup": ("查询", "Look up"),
    "points_balance": ("积分余额", "Points balance"),
    "points_history": ("积分明细", "Points history"),
    "draws": ("抽奖记录", "Draws"),
    "wins": ("中奖次数", "Wins"),
    "account": ("账号", "Account"),
    "action": ("操作", "Action"),
    "time": ("时间", "Time"),
    "result": ("结果", "Result"),
    "export_csv": ("导出CSV", "Export CSV"),
    "member": ("会员", "Member"),
    "date": ("日期", "Date"),
    "forbidden": ("您的角色无权访问此页面。", "Your role may not open this page."),
    "role": ("角色", "Role"),
    "new_dates": ("新活动时间", "New dates"),
    "loading": ("加载中…", "Loading…"),
    # API error codes
    "login_failed": ("用户名或密码错误", "Wrong username or password"),
    "account_locked": ("登录失败次数过多，账号已临时锁定", "Too many failed logins: the account is locked for a while"),
    "session_expired": ("会话已过期，请重新登录", "Your session has expired: log in again"),
    "csrf_failed": ("页面已过期，请刷新后重试", "The page is out of date: reload it and try again"),
    "role_forbidden": ("您的角色无权执行此操作", "Your role may not do this"),
    "store_forbidden": ("您只能在自己的门店核销", "You may redeem only at your own stores"),
    "reservation_not_found": ("找不到此预约码", "No reservation with this code"),
    "reservation_redeemed": ("此预约已核销过", "This reservation was already redeemed"),
    "reservation_cancelled": ("此预约已取消", "This reservation was cancelled"),
    "reservation_expired": ("此预约已过期", "This reservation has expired"),
    "wrong_date": ("不是此预约的日期", "Not this reservation's day"),
    "wrong_store": ("不是此预约的门店", "Not this reservation's store"),
    "not_a_draft": ("只能编辑或删除草稿", "Only a draft can be edited or deleted"),
    "invalid_transition": ("当前状态不允许此操作", "Not allowed in the current status"),
    "consolation_prize_required": (
        "需要一个「谢谢参与」奖品",
        "A \u201cthanks for taking part\u201d prize is required",
    ),
    "stock_required": ("非「谢谢参与」奖品需要库存", "Every prize but the consolation needs a stock"),
    "window_invalid": ("结束时间必须晚于开始时间", "The end must be after the start"),
    "invalid_body": ("输入有误", "Invalid input"),
    "prize_value_too_high": ("奖品价值不能超过5万元", "A prize may be worth at most 50,000 CNY"),
    "weights_all_zero": ("权重不能全为0", "Weights cannot all be zero"),
}


def translate(key: str, lang: str) -> str:
    words = _T.get(key)
    if words is None:
        return key
    return words[1] if lang == "en" else words[0]


def messages(lang: str) -> dict[str, str]:
    """Every word in `lang`, for the pages' scripts (error codes to messages)."""
    return {key: translate(key, lang) for key in _T}
