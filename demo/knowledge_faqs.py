"""Demo knowledge base: FAQs in Chinese and English on the seed's topics (dev and trials only).

Each entry: (stable key, title, category, keywords, body). Phone numbers and addresses are
fictitious. Also the corpus of the search-ranking tests, so keep titles distinct.
"""

from __future__ import annotations

DemoFaq = tuple[str, str, str, tuple[str, ...], str]

PASSWORDS = "密码与安全 Passwords"
STATUS = "邮箱状态 Mailbox status"
ARRIVAL = "到达通知 Arrival notification"
BLACKLIST = "短信黑名单 SMS blacklist"
PLANS = "套餐 Plans"
REMINDER = "登录提醒 Login reminder"
CLIENTS = "客户端设置 POP/IMAP"
BILLS = "账单投递 Bill delivery"
ALIAS = "别名 Alias"
ADDONS = "增值业务 Add-ons"
ACCOUNTS = "开户销户 Registration"
HISTORY = "历史记录 History records"
TICKETS = "工单 Tickets"

# fmt: off
FAQS_ZH: list[DemoFaq] = [
    ("pwd-change", "如何修改邮箱密码", PASSWORDS, ("密码", "修改密码", "改密"),
     "用户可登录 139 邮箱网页版，在“设置 → 账户与安全 → 修改密码”中修改。\n"
     "用户无法自行修改时，客服核实机主身份后，可在 SPOA“代客设置 → 密码修改”中代为设置新密码；"
     "系统只保存密码的摘要，修改后会向用户手机发送安全提醒短信。"),
    ("pwd-forgot", "忘记邮箱密码怎么办", PASSWORDS, ("忘记密码", "找回", "重置"),
     "在登录页点击“忘记密码”，输入手机号并填写短信验证码即可重置。\n"
     "若手机号已停机或收不到验证码，请核实机主身份后由客服代为修改密码。"),
    ("pwd-rules", "邮箱密码有哪些要求", PASSWORDS, ("密码规则", "弱密码"),
     "密码长度 6–16 位，须同时包含字母和数字，不能与手机号、别名相同，"
     "也不能是 123456 这类连续或重复的数字。"),
    ("pwd-sms", "修改密码后为什么会收到短信通知", PASSWORDS, ("安全提醒", "短信"),
     "为保护账户安全，每次修改密码都会由 10658139 向机主手机发送一条安全提醒。"
     "安全提醒不受短信黑名单“拒收营销短信”级别影响。"),
    ("pwd-locked", "密码连续输错被锁定怎么办", PASSWORDS, ("锁定", "输错"),
     "网页登录连续输错 5 次密码，账户会被临时锁定 15 分钟，到时自动解锁。"
     "如用户怀疑被盗号，建议立即修改密码并开通登录提醒。"),
    ("unfreeze", "如何解冻被冻结的邮箱", STATUS, ("解冻", "冻结", "恢复使用"),
     "先在“基本信息”中查看冻结原因和冻结时间。\n"
     "安全冻结：核实机主身份后，在 SPOA“代客设置 → 邮箱解冻”中解冻，并提醒用户修改密码。\n"
     "欠费冻结：用户缴清话费后由平台自动解冻，一般无需人工处理。"),
    ("freeze-why", "邮箱为什么会被冻结", STATUS, ("冻结原因", "安全冻结"),
     "常见原因：平台检测到异地频繁登录或群发垃圾邮件而进行的安全冻结；手机号欠费停机；"
     "用户本人申请冻结。冻结期间可以收信，但不能登录和发信。"),
    ("arrears", "欠费停机后邮箱多久恢复", STATUS, ("欠费", "停机", "复机"),
     "缴清话费、号码复机后，BOSS 会把复机指令同步到邮箱平台，通常 30 分钟内自动恢复。"
     "可在“同步日记”中查看 BOSS 同步记录。"),
    ("arrival-set", "如何设置邮件到达通知", ARRIVAL, ("到达通知", "新邮件提醒", "短信提醒"),
     "在 SPOA“代客设置 → 邮件到达通知”中选择通知方式（短信、彩信或 WAP Push）"
     "和接收时段，例如 08:00–22:00。关闭后不再发送任何到达通知。"),
    ("arrival-missing", "收不到邮件到达通知短信怎么办", ARRIVAL, ("收不到通知", "到达通知"),
     "依次检查：1. 到达通知是否开启；2. 当前时间是否在设置的接收时段内；"
     "3. 10658139 短信黑名单级别是否为“全部拒收”；4. 在“短信记录”中查看发送状态。"),
    ("arrival-window", "到达通知的时段可以跨越午夜吗", ARRIVAL, ("时段", "夜间"),
     "可以。开始时间晚于结束时间表示跨越午夜，例如 22:00–07:00 表示夜间接收。"),
    ("arrival-fee", "邮件到达通知收费吗", ARRIVAL, ("资费", "收费"),
     "短信到达通知包含在邮箱套餐内，不另外收费；彩信到达通知按套餐说明计费，"
     "可在“扣费记录”中核对。"),
    ("blacklist", "什么是 10658139 短信黑名单", BLACKLIST, ("10658139", "黑名单", "屏蔽短信"),
     "10658139 是 139 邮箱的短信服务号。黑名单分四级：不限制；拒收营销短信；"
     "仅接收到达通知和安全短信；全部拒收。客服可在“代客设置 → 邮箱黑名单”中调整。"),
    ("blacklist-marketing", "如何停止接收 10658139 的营销短信", BLACKLIST, ("营销短信", "退订"),
     "将短信黑名单级别设为“拒收营销短信”即可。活动类、推广类短信不再发送，"
     "到达通知和安全提醒不受影响。"),
    ("blacklist-all", "设置全部拒收后还会收到到达通知吗", BLACKLIST, ("全部拒收",),
     "不会。“全部拒收”会屏蔽 10658139 发出的所有短信，包括到达通知和登录提醒。"
     "如用户仍需到达通知，请改为“仅接收到达通知和安全短信”。"),
    ("plan-change", "如何变更邮箱套餐", PLANS, ("套餐", "变更", "升级"),
     "在 SPOA“代客设置 → 套餐变更”中选择新套餐并提交。变更前请向用户说明月费和容量差异。"),
    ("plan-when", "套餐变更什么时候生效", PLANS, ("生效时间",),
     "升级立即生效，月费按天折算；降级次月 1 日生效。"),
    ("plan-fees", "139 邮箱各套餐的月费是多少", PLANS, ("月费", "资费"),
     "免费版 0 元/月；5 元版含彩信到达通知；20 元版含超大附件和邮箱伴侣。"
     "以当地资费公告为准。"),
    ("reminder-on", "如何开通邮箱登录提醒", REMINDER, ("登录提醒", "登陆提醒", "异地登录"),
     "开通后，每次有人登录邮箱（网页、WAP 或客户端），10658139 都会向机主手机发送短信。"
     "在 SPOA“代客设置 → 邮箱登陆提醒”中开启。"),
    ("reminder-off", "如何关闭登录短信提醒", REMINDER, ("关闭提醒",),
     "在“代客设置 → 邮箱登陆提醒”中关闭即可，立即生效。"),
    ("login-log", "如何查询用户的邮箱登录记录", HISTORY, ("登录记录", "登陆日记"),
     "在“客户历史记录 → 邮箱登陆日记”中按时间段查询，可按渠道（Web、WAP、POP、IMAP）筛选。"),
    ("pop-outlook", "如何在 Outlook 中设置 POP3 收取 139 邮箱", CLIENTS,
     ("POP3", "Outlook", "客户端"),
     "接收服务器 pop.139.com，端口 110（SSL 995）；发送服务器 smtp.139.com，端口 25（SSL 465）。"
     "用户名为完整邮箱地址，密码为邮箱密码。使用前需在网页版开启 POP/IMAP 服务。"),
    ("imap-phone", "手机客户端如何设置 IMAP", CLIENTS, ("IMAP", "手机客户端"),
     "接收服务器 imap.139.com，端口 143（SSL 993）；发送服务器 smtp.139.com，端口 465（SSL）。"),
    ("pop-password", "客户端提示 POP3 密码错误怎么办", CLIENTS, ("POP3", "密码错误"),
     "确认已在网页版开启 POP/IMAP 服务，用户名须为完整邮箱地址；"
     "近期修改过密码的，需要在客户端里更新保存的密码。"),
    ("bill-subscribe", "如何订阅话费账单投递到邮箱", BILLS, ("话费账单", "账单投递", "电子账单"),
     "在 SPOA“代客设置 → 话费账单投递”中订阅。每月 5 日前后，BOSS 把上月话费账单投递到邮箱。"),
    ("bill-missing", "为什么本月没有收到话费账单邮件", BILLS, ("账单", "没收到"),
     "先确认已订阅账单投递，再在“同步日记”中查看 BOSS 是否已同步投递指令；"
     "账单邮件也可能被归入“账单中心”文件夹。"),
    ("bill-cancel", "如何退订话费账单投递", BILLS, ("退订账单",),
     "在“代客设置 → 话费账单投递”中退订，下月起不再投递。"),
    ("alias-set", "如何设置邮箱别名", ALIAS, ("别名", "字母账号"),
     "别名 4–16 位，以字母开头，可含数字、点和下划线。设置后可用 别名@139.com 收发邮件。"),
    ("alias-taken", "设置别名时提示已被占用怎么办", ALIAS, ("别名占用",),
     "每个别名全平台唯一，请用户换一个别名。已注销用户的别名会保留一段时间后才释放。"),
    ("companion", "什么是邮箱伴侣，如何开通", ADDONS, ("邮箱伴侣",),
     "邮箱伴侣是桌面收信提醒工具，20 元版套餐自带，其他套餐可在“代客设置 → 邮箱伴侣”中开通。"),
    ("register", "如何为用户开通 139 邮箱", ACCOUNTS, ("开通", "注册"),
     "在“代客设置 → 邮箱注册注销”中输入手机号、所属省份和套餐后提交。"),
    ("deregister", "注销邮箱后数据还能恢复吗", ACCOUNTS, ("注销", "数据恢复"),
     "注销后邮件数据保留 30 天，期间重新注册可恢复；超过 30 天将被清除，无法恢复。"),
    ("points", "邮箱积分如何获得和查询", HISTORY, ("积分", "等级"),
     "登录、发信、参加活动都可获得积分。在“邮箱积分日志”中查看积分变化和等级。"),
    ("charges", "如何查询邮箱扣费记录", HISTORY, ("扣费", "话费"),
     "在“客户历史记录 → 扣费记录”中按时间段查询扣费时间、金额和扣费方式。"),
    ("sms-records", "如何查询用户通过邮箱发送的短信记录", HISTORY, ("短信记录", "自写短信"),
     "在“客户历史记录 → 短信记录”中查询发送状态、时间、费用和详情。"),
    ("ticket-when", "什么情况下需要提交工单给二线支持", TICKETS, ("工单", "二线"),
     "一线无法处理的问题（平台故障、数据异常、批量投诉）请提交工单，写明手机号、现象和时间。"),
]

FAQS_EN: list[DemoFaq] = [
    ("en-pwd-reset", "How to reset a forgotten mailbox password", PASSWORDS,
     ("password", "reset", "forgot"),
     "On the login page choose \"Forgot password\" and confirm with the SMS code sent to the "
     "phone. If the number cannot receive SMS, verify the owner and set a new password for "
     "them under Proxy settings → Password change."),
    ("en-pwd-rules", "Password requirements for 139 Mailbox", PASSWORDS, ("password", "policy"),
     "6 to 16 characters, letters and digits, not the phone number or the alias."),
    ("en-unfreeze", "Unfreezing a frozen mailbox", STATUS, ("unfreeze", "frozen"),
     "Check the freeze reason first. Security freezes are lifted under Proxy settings → "
     "Unfreeze mailbox after verifying the owner; arrears freezes lift automatically once the "
     "bill is paid."),
    ("en-frozen-why", "Why was my mailbox frozen?", STATUS, ("frozen", "security"),
     "Unusual logins from many places, bulk spam, an unpaid phone bill, or the owner's own "
     "request. A frozen mailbox still receives mail but cannot log in or send."),
    ("en-arrival", "Setting up new-mail arrival notifications", ARRIVAL,
     ("arrival notification", "SMS"),
     "Choose SMS, MMS or WAP Push and a time window such as 08:00-22:00 under Proxy settings "
     "→ Mail arrival notification."),
    ("en-arrival-missing", "Arrival notification SMS not received", ARRIVAL,
     ("arrival notification",),
     "Check that notifications are on, the time window, and that the 10658139 blacklist level "
     "is not ALL_BLOCKED; then look at the SMS records for the delivery status."),
    ("en-blacklist-marketing", "Blocking marketing SMS from 10658139", BLACKLIST,
     ("10658139", "blacklist", "marketing"),
     "Set the SMS blacklist level to NO_MARKETING: campaign messages stop, arrival notices and "
     "security alerts still arrive."),
    ("en-blacklist-levels", "SMS blacklist levels explained", BLACKLIST, ("blacklist",),
     "NONE, NO_MARKETING, ESSENTIAL_ONLY (arrival and security SMS only) and ALL_BLOCKED "
     "(nothing from 10658139 at all)."),
    ("en-plan-change", "Changing the mailbox plan", PLANS, ("plan", "upgrade", "downgrade"),
     "Use Proxy settings → Plan change. Upgrades apply at once; downgrades on the first day "
     "of next month."),
    ("en-plan-fees", "Plan fees and billing", PLANS, ("plan", "fee"),
     "Free: 0 yuan a month; Standard: 5 yuan; Premium: 20 yuan with large attachments."),
    ("en-reminder", "Turning login reminders on or off", REMINDER, ("login reminder",),
     "With login reminders on, 10658139 texts the owner whenever someone logs in by web, WAP "
     "or a mail client."),
    ("en-pop-imap", "POP3 and IMAP server settings", CLIENTS, ("POP3", "IMAP", "SMTP"),
     "POP3: pop.139.com port 110 (SSL 995). IMAP: imap.139.com port 143 (SSL 993). "
     "SMTP: smtp.139.com port 25 (SSL 465). Turn on POP/IMAP access in web mail first."),
    ("en-imap-phone", "Configuring IMAP on iPhone and Android", CLIENTS, ("IMAP", "phone"),
     "Add an account of type IMAP with server imap.139.com, SSL on port 993, and the full "
     "mailbox address as user name."),
    ("en-bill", "Monthly phone bill delivery to the mailbox", BILLS, ("bill delivery",),
     "Subscribe under Proxy settings → Phone-bill delivery; the bill arrives around the 5th "
     "of each month."),
    ("en-alias", "Choosing a mailbox alias", ALIAS, ("alias",),
     "4 to 16 characters starting with a letter; mail to alias@139.com reaches the mailbox."),
    ("en-escalate", "Escalating a ticket to second-line support", TICKETS,
     ("ticket", "escalation"),
     "Submit a ticket with the phone number, what happened and when; second-line support "
     "answers within the priority's deadline."),
]

# fmt: on

ALL_FAQS: list[DemoFaq] = FAQS_ZH + FAQS_EN
