// Simplified Chinese and English; the choice is kept per browser (localStorage).
const KEY = "fengkong.lang";
const TEXT = {
  en: {
    language: "Language", signOut: "Sign out",
    "signIn.title": "Sign in", "signIn.help": "Paste your API key. The browser keeps a session, never the key.",
    "signIn.submit": "Sign in", "signIn.refused": "The key was refused.",
    "nav.portfolio": "Portfolio", "nav.account": "Account", "nav.queue": "Collection queue",
    "nav.reviews": "Reviews & held locks", "nav.reports": "Reports",
    loading: "Loading…", failed: "Could not load", none: "—", yes: "yes", no: "no",
    "range.from": "From", "range.to": "To", "range.apply": "Apply", "range.interval": "Roll-rate interval (days)",
    "portfolio.title": "Portfolio", "portfolio.dates": "Business dates are platform calendar dates; days of locks in {zone}.",
    "chart.delinquency": "Delinquent accounts by bucket (stacked)", "chart.overdue": "Overdue balance",
    "chart.locks": "Card locks and unlocks per day", "chart.rollRates": "Roll rates {from} → {to}",
    "chart.vintage": "Vintage curves: share 30+ days past due by months on book",
    "unit.accounts": "accounts", "unit.yuan": "yuan (¥)", "unit.cards": "cards", "unit.share": "share of accounts",
    "unit.businessDate": "business date", "unit.day": "day ({zone})", "unit.mob": "months on book",
    "series.locks": "locks", "series.unlocks": "unlocks", "series.held": "held locks",
    "roll.from": "from \\ to", "roll.new": "new", "cure.rate": "Cure rate", "cure.detail": "{cured} of {delinquent} delinquent accounts current again",
    "brake.title": "Emergency brake", "brake.unknown": "not reported by this server",
    "vintage.opened": "opened {month} ({n} accounts)",
    "account.title": "Account", "account.search": "Account id", "account.go": "Show", "account.notFound": "No such account.",
    "account.status": "Status", "account.card": "Card", "account.line": "Credit line", "account.limit": "Limit",
    "account.originalLimit": "Original limit", "account.overdue": "Overdue", "account.outstanding": "Outstanding",
    "account.credit": "Credit balance", "account.dpd": "Days past due", "account.score": "Score", "account.tier": "Tier",
    "account.review": "Open review", "account.reviewDue": "due {date}", "account.watch": "Watch list",
    "account.timezone": "Times in {zone}", "account.timeline": "Timeline", "account.locked": "locked",
    "account.unlocked": "unlocked", "account.suspended": "suspended", "account.active": "active",
    "account.rule": "rule", "account.policy": "policy", "account.command": "command",
    "account.held": "Lock held by the brake", "account.heldYes": "held for an operator",
    "account.noCommand": "no command", "account.thresholds": "thresholds", "account.seen": "facts seen",
    "account.changes": "changes", "account.actedBy": "a person's action, by {who}", "account.since": "since {date}",
    "account.daysLeft": "{n} business days left", "account.counts": "{facts} facts, {decisions} decisions",
    "account.storyNote": "The story `fengkong audit explain` tells: every recorded fact, each decision with its rule, the thresholds it compared with and the facts it saw, and the command it emitted. Personal data stays sealed.",
    "queue.title": "Collection queue", "queue.minDpd": "Min. days past due", "queue.bucket": "Bucket", "queue.all": "all",
    "queue.rank": "#", "queue.account": "Account", "queue.dpd": "Days past due", "queue.overdue": "Overdue",
    "queue.bills": "Bills", "queue.plans": "Broken plans", "queue.card": "Card", "queue.notices": "Notices",
    "queue.lastNotice": "Last notice", "queue.since": "Overdue since",
    "queue.zones": "Times are in each account's own time zone, shown with its offset. Sorted by the server over the whole queue.",
    "page.prev": "Previous", "page.next": "Next", "page.of": "{first}–{last} of {total}",
    "action.title": "Action", "action.cancel": "Cancel", "action.refused": "Refused", "table.filter": "Filter",
    "brake.armed": "armed", "brake.tripped": "tripped: locks held",
    "brake.detail": "{held} held · {count} automatic locks in the last {minutes} minutes of event time · bound {bound}",
    "reviews.title": "Open unlock reviews", "reviews.request": "Request", "reviews.requested": "Requested on",
    "reviews.deadline": "Deadline", "reviews.left": "Business days left", "reviews.escalated": "Escalated",
    "reviews.approve": "Approve", "reviews.reject": "Reject", "reviews.approveTitle": "Approve the unlock review of {account}?",
    "reviews.rejectTitle": "Reject the unlock review of {account}?",
    "reviews.confirmBody": "Request {request}, deadline {deadline}. The decision is recorded with your name.",
    "reviews.note": "Note (recorded)", "reviews.approved": "Review of {account} approved.", "reviews.rejected": "Review of {account} rejected.",
    "held.title": "Locks held by the emergency brake", "held.zone": "Cause times in {zone}.", "held.cause": "Cause at", "held.rule": "Rule",
    "held.verdict": "Emitted / bound (active)", "held.commands": "Held commands", "held.release": "Release", "held.drop": "Drop",
    "held.releaseTitle": "Release the held lock of {account}?", "held.dropTitle": "Drop the held lock of {account}?",
    "held.releaseBody": "{commands} will be emitted now (hold {hold}).", "held.dropBody": "Nothing will be emitted for it (hold {hold}).",
    "held.reason": "Reason (recorded)", "held.released": "Held lock of {account} released: {commands} emitted.",
    "held.dropped": "Held lock of {account} dropped: nothing emitted.",
    "report.positionsPeriod": "store positions {from} to {to}", "report.unbounded": "all history",
    "report.recorded": "recorded (active policy)", "report.candidate": "candidate", "report.accounts": "Accounts",
    "report.facts": "Facts", "report.differing": "Accounts that differ", "report.policies": "Policies and their evidence",
    "report.policiesNote": "A proposal becomes active only with a what-if report over recorded history, a shadow period on live traffic and another admin's approval.",
    "report.version": "Version", "report.status": "Status", "report.proposedBy": "Proposed by", "report.whatif": "What-if report",
    "report.shadow": "Shadow period", "report.approvedBy": "Approved by", "report.evidence": "{differing} of {accounts} accounts differ (by {by})",
    "report.shadowRuns": "Shadow runs", "report.candidateVersion": "Candidate", "report.positions": "Store positions",
    "report.started": "Started", "report.updated": "Updated", "report.policy": "Policy", "report.diff": "Settings: {a} → {b}",
    "report.setting": "Setting", "report.none": "Not attached.", "report.attachedBy": "Attached by {by}; period {period}.",
    "report.commands": "Commands by type", "report.commandsUnit": "commands", "report.value": "Accounts or commands",
    "report.shadowPeriod": "Store positions {from} to {to}; started {started}, updated {updated}.",
    "report.locks": "Card locks", "report.notices": "Notices by template", "report.portfolio": "Portfolio at the end",
    "report.limits": "Limit changes", "report.differingAccounts": "Accounts that differ ({n})", "report.more": "and {n} more",
    "report.shiftDays": "First lock moved by (days)", "report.shiftUnit": "days, candidate minus recorded",
    "report.locks.recorded": "LockCard recorded", "report.locks.candidate": "LockCard under the candidate",
    "report.locks.locked_only_recorded": "accounts locked only as recorded", "report.locks.locked_only_candidate": "accounts locked only under the candidate",
    "report.locks.first_lock_earlier": "first lock earlier", "report.locks.first_lock_later": "first lock later",
    "status.locked": "locked", "status.suspended": "suspended", "status.overdue": "overdue", "status.current": "current",
  },
  "zh-CN": {
    language: "语言", signOut: "退出登录",
    "signIn.title": "登录", "signIn.help": "粘贴您的 API 密钥。浏览器只保存会话，不保存密钥。",
    "signIn.submit": "登录", "signIn.refused": "密钥被拒绝。",
    "nav.portfolio": "资产组合", "nav.account": "账户", "nav.queue": "催收队列",
    "nav.reviews": "复核与暂扣锁卡", "nav.reports": "报告",
    loading: "加载中…", failed: "加载失败", none: "—", yes: "是", no: "否",
    "range.from": "起始", "range.to": "截止", "range.apply": "应用", "range.interval": "迁徙率区间（天）",
    "portfolio.title": "资产组合", "portfolio.dates": "营业日为平台日历日期；锁卡按 {zone} 日期统计。",
    "chart.delinquency": "各逾期阶段账户数（堆叠）", "chart.overdue": "逾期余额",
    "chart.locks": "每日锁卡与解锁", "chart.rollRates": "迁徙率 {from} → {to}",
    "chart.vintage": "账龄曲线：逾期 30 天以上占比（按账龄月数）",
    "unit.accounts": "账户数", "unit.yuan": "元（¥）", "unit.cards": "张", "unit.share": "账户占比",
    "unit.businessDate": "营业日", "unit.day": "日期（{zone}）", "unit.mob": "账龄（月）",
    "series.locks": "锁卡", "series.unlocks": "解锁", "series.held": "暂扣锁卡",
    "roll.from": "从 \\ 到", "roll.new": "新开户", "cure.rate": "治愈率", "cure.detail": "{delinquent} 个逾期账户中 {cured} 个已恢复正常",
    "brake.title": "紧急制动", "brake.unknown": "本服务未提供",
    "vintage.opened": "{month} 开户（{n} 户）",
    "account.title": "账户", "account.search": "账户号", "account.go": "查询", "account.notFound": "未找到该账户。",
    "account.status": "状态", "account.card": "卡片", "account.line": "授信额度状态", "account.limit": "额度",
    "account.originalLimit": "初始额度", "account.overdue": "逾期金额", "account.outstanding": "未还金额",
    "account.credit": "溢缴款", "account.dpd": "逾期天数", "account.score": "评分", "account.tier": "等级",
    "account.review": "待处理复核", "account.reviewDue": "截止 {date}", "account.watch": "观察名单",
    "account.timezone": "时间为 {zone}", "account.timeline": "时间线", "account.locked": "已锁定",
    "account.unlocked": "未锁定", "account.suspended": "已暂停", "account.active": "正常",
    "account.rule": "规则", "account.policy": "策略", "account.command": "指令",
    "account.held": "制动暂扣的锁卡", "account.heldYes": "待操作员处理",
    "account.noCommand": "无指令", "account.thresholds": "阈值", "account.seen": "依据事实",
    "account.changes": "变更", "account.actedBy": "人工操作，操作人 {who}", "account.since": "自 {date}",
    "account.daysLeft": "剩余 {n} 个工作日", "account.counts": "{facts} 条事实，{decisions} 项决策",
    "account.storyNote": "与 `fengkong audit explain` 相同的记录：每条已记录的事实，每项决策的规则、所比较的阈值与依据的事实，以及发出的指令。个人信息保持加密。",
    "queue.title": "催收队列", "queue.minDpd": "最少逾期天数", "queue.bucket": "逾期阶段", "queue.all": "全部",
    "queue.rank": "序号", "queue.account": "账户", "queue.dpd": "逾期天数", "queue.overdue": "逾期金额",
    "queue.bills": "逾期账单", "queue.plans": "违约计划", "queue.card": "卡片", "queue.notices": "通知数",
    "queue.lastNotice": "最近通知", "queue.since": "逾期起始",
    "queue.zones": "时间为各账户所在时区，并标注时差。排序由服务端对整个队列进行。",
    "page.prev": "上一页", "page.next": "下一页", "page.of": "第 {first}–{last} 条，共 {total} 条",
    "action.title": "操作", "action.cancel": "取消", "action.refused": "被拒绝", "table.filter": "筛选",
    "brake.armed": "待命", "brake.tripped": "已触发：锁卡暂扣中",
    "brake.detail": "暂扣 {held} 笔 · 最近 {minutes} 分钟（事件时间）自动锁卡 {count} 笔 · 上限 {bound}",
    "reviews.title": "待处理的解锁复核", "reviews.request": "申请号", "reviews.requested": "申请日期",
    "reviews.deadline": "截止日期", "reviews.left": "剩余工作日", "reviews.escalated": "已升级",
    "reviews.approve": "批准", "reviews.reject": "拒绝", "reviews.approveTitle": "批准 {account} 的解锁复核？",
    "reviews.rejectTitle": "拒绝 {account} 的解锁复核？",
    "reviews.confirmBody": "申请 {request}，截止 {deadline}。决定将以您的名义记录。",
    "reviews.note": "备注（将记录）", "reviews.approved": "{account} 的复核已批准。", "reviews.rejected": "{account} 的复核已拒绝。",
    "held.title": "紧急制动暂扣的锁卡", "held.zone": "触发时间为 {zone}。", "held.cause": "触发时间", "held.rule": "规则",
    "held.verdict": "已发出 / 上限（活跃账户）", "held.commands": "暂扣的指令", "held.release": "放行", "held.drop": "撤销",
    "held.releaseTitle": "放行 {account} 的暂扣锁卡？", "held.dropTitle": "撤销 {account} 的暂扣锁卡？",
    "held.releaseBody": "将立即发出 {commands}（暂扣 {hold}）。", "held.dropBody": "不会为其发出任何指令（暂扣 {hold}）。",
    "held.reason": "原因（将记录）", "held.released": "{account} 的暂扣锁卡已放行：已发出 {commands}。",
    "held.dropped": "{account} 的暂扣锁卡已撤销：未发出指令。",
    "report.positionsPeriod": "存储位置 {from} 至 {to}", "report.unbounded": "全部历史",
    "report.recorded": "实际记录（现行策略）", "report.candidate": "候选策略", "report.accounts": "账户数",
    "report.facts": "事实数", "report.differing": "结果不同的账户", "report.policies": "策略及其依据",
    "report.policiesNote": "提案须附回溯模拟报告、影子运行期并经另一位管理员批准后方可生效。",
    "report.version": "版本", "report.status": "状态", "report.proposedBy": "提出人", "report.whatif": "回溯模拟报告",
    "report.shadow": "影子运行期", "report.approvedBy": "批准人", "report.evidence": "{accounts} 个账户中 {differing} 个不同（{by}）",
    "report.shadowRuns": "影子运行", "report.candidateVersion": "候选策略", "report.positions": "存储位置",
    "report.started": "开始", "report.updated": "更新", "report.policy": "策略", "report.diff": "参数：{a} → {b}",
    "report.setting": "参数", "report.none": "未附。", "report.attachedBy": "由 {by} 附上；区间 {period}。",
    "report.commands": "各类指令数", "report.commandsUnit": "指令数", "report.value": "账户或指令数",
    "report.shadowPeriod": "存储位置 {from} 至 {to}；开始于 {started}，更新于 {updated}。",
    "report.locks": "锁卡", "report.notices": "各模板通知数", "report.portfolio": "期末资产组合",
    "report.limits": "额度调整", "report.differingAccounts": "结果不同的账户（{n}）", "report.more": "另有 {n} 个",
    "report.shiftDays": "首次锁卡提前/推迟（天）", "report.shiftUnit": "天数，候选减实际",
    "report.locks.recorded": "实际锁卡数", "report.locks.candidate": "候选策略锁卡数",
    "report.locks.locked_only_recorded": "仅实际被锁的账户", "report.locks.locked_only_candidate": "仅候选策略下被锁的账户",
    "report.locks.first_lock_earlier": "首次锁卡提前", "report.locks.first_lock_later": "首次锁卡推迟",
    "status.locked": "已锁卡", "status.suspended": "已暂停", "status.overdue": "逾期", "status.current": "正常",
  },
};

export function language() {
  const kept = localStorage.getItem(KEY);
  if (kept && TEXT[kept]) return kept;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function setLanguage(lang) {
  localStorage.setItem(KEY, TEXT[lang] ? lang : "en");
}

export function t(key, values = {}) {
  const text = TEXT[language()][key] ?? TEXT.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

export function translateStatic(root = document) {
  document.documentElement.lang = language();
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
}

// Keys one language has and another lacks (the browser tests hold both languages to the same keys).
export function untranslated() {
  const all = new Set(Object.values(TEXT).flatMap((texts) => Object.keys(texts)));
  return Object.fromEntries(Object.entries(TEXT).map(([lang, texts]) => [lang, [...all].filter((k) => !(k in texts))]));
}

export function keys() {
  return Object.keys(TEXT.en);
}
