// The counter's page: log in, the application form validated as you type by the station's own
// rules (/api/validate), the photo from the station's camera with the photo check's verdict,
// the issuance job's steps from the event stream, the printed face, hand-over with a signature,
// activation, and the supervisor's stock, dormant-card, recall and ledger screens. Device status
// stays in view. No framework, nothing loaded from elsewhere.
'use strict';

// ---------------------------------------------------------------- texts (中文 / English)
const TEXT = {
  'title': ['社会保障卡即时制卡', 'Social security card: instant issuance'],
  'logout': ['退出', 'Log out'],
  'devices': ['设备状态', 'Devices'],
  'nav.apply': ['新申请', 'New application'],
  'nav.progress': ['制卡进度', 'Progress'],
  'nav.handover': ['领卡签字', 'Hand-over'],
  'nav.activate': ['金融激活', 'Activation'],
  'nav.losses': ['挂失与补卡', 'Losses and fees'],
  'waiting.title': ['等待处理的申请', 'Applications waiting for a person'],
  'waiting.hint': ['暂停的补换卡（主管恢复旧卡或继续制新卡）和待更正身份信息的申请，离开页面后可在此重新打开。', 'Held re-issues (a supervisor restores the old card or resumes the new one) and applications waiting for an identity correction: open them again here after leaving the page.'],
  'waiting.job': ['申请', 'Job'],
  'waiting.status': ['状态', 'Status'],
  'waiting.since': ['时间', 'Since'],
  'waiting.open': ['打开', 'Open'],
  'waiting.held': ['补换卡暂停', 're-issue held'],
  'waiting.correcting': ['待更正身份信息', 'awaiting a correction'],
  'waiting.none': ['没有等待处理的申请。', 'Nothing waits.'],
  'losses.title': ['挂失、解挂与补卡收费', 'Losses, lifting and replacement fees'],
  'losses.rule': ['口头挂失按收费标准的天数暂停卡片，到期自动解除；解挂和柜台挂失须持卡人本人到场并核验证件；正式挂失即停用卡片（补卡前）。补卡首次免费，低保、特困等人员不收卡费；每笔收费或免收都有收据号。', 'A temporary loss suspends the card for the schedule\'s days and lapses by itself; lifting it and a loss at the counter need the holder in person, ID checked; a formal loss stops the card (before a replacement). The first replacement is free, and the fee-free groups pay no card fee; every fee or waiver has its receipt number.'],
  'losses.id': ['持卡人身份证号码（来电所报或证件所载）', 'Holder\'s ID number (as the caller said it, or from the document)'],
  'losses.channel': ['挂失方式', 'Reported'],
  'losses.phone': ['电话挂失（本网点的卡）', 'By phone (this station\'s card)'],
  'losses.counter': ['柜台挂失（持卡人本人）', 'At the counter (the holder)'],
  'losses.checked': ['持卡人本人在柜台前，已核验身份证件', 'The holder is at the counter, ID document checked'],
  'losses.temporary': ['口头挂失', 'Temporary loss'],
  'losses.lift': ['解挂', 'Lift the loss'],
  'losses.formal': ['正式挂失（停用）', 'Formal loss (stop)'],
  'losses.fee': ['补卡收费', 'Replacement fee'],
  'losses.suspended': ['已口头挂失，暂停至 ', 'Suspended until '],
  'losses.lifted': ['已解挂，卡片恢复使用', 'Loss lifted: the card is usable again'],
  'losses.stopped': ['已正式挂失，卡片停用；可为持卡人补卡', 'Formally lost: the card is stopped; a replacement can be made'],
  'losses.receipt': ['收据号 ', 'Receipt '],
  'losses.due': ['应收补卡费 ', 'Fee due '],
  'losses.waived': ['免收补卡费：', 'No fee: '],
  'losses.first': ['首次补卡免费', 'the first replacement is free'],
  'losses.free': ['免收卡费人员 ', 'a fee-free group '],
  'losses.schedule': ['收费标准：补卡费 {fee} 元，口头挂失 {days} 天。', 'Schedule: replacement {fee} yuan, temporary loss {days} days.'],
  'nav.cards': ['库存与卡片', 'Stock and cards'],
  'nav.dormant': ['久未领取与召回', 'Dormant and recall'],
  'nav.ledger': ['台账', 'Ledger'],
  'nav.stock': ['接收与调拨', 'Receive and move'],
  'login.title': ['操作员登录', 'Operator log-in'],
  'login.name': ['操作员', 'Operator'],
  'login.password': ['密码', 'Password'],
  'login.submit': ['登录', 'Log in'],
  'login.failed': ['登录失败：', 'Log-in failed: '],
  'password.title': ['设置您自己的密码', 'Choose your own password'],
  'password.why': ['这是别人给您的初始密码。请先设置只有您知道的密码（至少10个字符）。', 'This is the password you were given. First choose one only you know (at least 10 characters).'],
  'password.current': ['当前密码', 'Current password'],
  'password.new': ['新密码', 'New password'],
  'password.repeat': ['再次输入新密码', 'New password again'],
  'password.submit': ['保存密码', 'Save the password'],
  'password.mismatch': ['两次输入的新密码不一致', 'The two new passwords differ'],
  'password.failed': ['未能保存：', 'Not saved: '],
  'apply.title': ['新申请（即时制卡）', 'New application (instant card)'],
  'apply.holder': ['持卡人', 'Card holder'],
  'apply.contact': ['联系方式', 'Contact'],
  'apply.guardian': ['监护人（未满16周岁必填）', 'Guardian (required under 16)'],
  'apply.reissue': ['补换卡，原卡', 'Re-issue of'],
  'apply.submit': ['提交并制卡', 'Submit and make the card'],
  'apply.reset': ['清空', 'Clear'],
  'apply.keys': ['Tab 下一项 · Enter 提交 · Alt+C 拍照', 'Tab next field · Enter submit · Alt+C photo'],
  'apply.fix': ['请先改正以下各项：', 'Please correct these first:'],
  'apply.live': ['此人已持有本站制作的有效卡：', 'This person already holds a live card made here: '],
  'apply.live_way': ['新卡只能按补换卡办理：在“原卡号”填入该卡号（旧卡将先停用）。', 'A new card is only a re-issue: enter that number as the old card (it is stopped first).'],
  'apply.use_reissue': ['按补换卡办理', 'Make it a re-issue'],
  'apply.photo_needed': ['请先拍照并通过检测', 'Take a photo that passes the check first'],
  'choose': ['请选择', 'Choose'],
  'sex.1': ['男', 'Male'],
  'sex.2': ['女', 'Female'],
  'f.id_type': ['证件类型', 'ID type'],
  'f.id_number': ['证件号码', 'ID number'],
  'f.name': ['姓名', 'Name'],
  'f.sex': ['性别', 'Sex'],
  'f.birth_date': ['出生日期', 'Birth date'],
  'f.ethnicity': ['民族', 'Ethnicity'],
  'f.birthplace': ['出生地（行政区划代码）', 'Birthplace (region code)'],
  'f.nationality': ['国籍', 'Nationality'],
  'f.valid_from': ['证件有效期起', 'ID valid from'],
  'f.valid_to': ['证件有效期止（或“长期”）', 'ID valid to (or 长期)'],
  'f.occupation': ['职业', 'Occupation'],
  'f.address': ['居住地址', 'Residence address'],
  'f.postcode': ['邮编', 'Postcode'],
  'f.mobile': ['手机', 'Mobile'],
  'f.phone': ['固定电话', 'Phone'],
  'f.email': ['电子邮箱', 'E-mail'],
  'f.employer': ['工作单位', 'Employer'],
  'f.employer_address': ['单位地址', 'Employer address'],
  'f.relation': ['与申请人关系', 'Relation'],
  'f.reissue_of': ['补换卡：原卡号（旧卡先停用）', 'Re-issue: old card number (stopped first)'],
  'f.bank': ['服务银行（由申请人本人选择）', 'Serving bank (the applicant\'s own choice)'],
  'f.household_address': ['户口所在地地址', 'Household-registration address'],
  'apply.insurance': ['参保信息与申明', 'Medical insurance and declaration'],
  'f.category': ['参加医疗保险或新农合的类型（参保类别）', 'Medical-insurance category'],
  'f.agency': ['所参加医疗保险的经办机构', 'Insuring agency'],
  'f.prev_city': ['已持卡：发卡城市（首次申领不填）', 'Card already held: city (leave empty on a first application)'],
  'f.prev_card': ['已持卡：卡号', 'Card already held: number'],
  'f.consent': ['本人现同意停用该社保卡（申请人签字同意注销原卡）', 'The applicant signs the consent to stop that card'],
  'f.declaration': ['申请人已阅读并同意以上申明', 'The applicant read and accepts the declaration'],
  'progress.print_form': ['打印申请表', 'Print the application form'],
  'bank.elsewhere': ['须到该行网点激活', 'activated at its branches'],
  'f.card_number': ['卡号', 'Card number'],
  'photo.title': ['照片', 'Photo'],
  'photo.capture': ['拍照（Alt+C）', 'Take photo (Alt+C)'],
  'photo.file': ['或使用申请人带来的照片文件（JPEG/PNG）', "Or the applicant's own photo file (JPEG/PNG)"],
  'photo.taking': ['正在拍照与检测…', 'Taking and checking…'],
  'photo.pass': ['照片合格', 'Photo accepted'],
  'photo.fail': ['照片不合格：', 'Photo refused: '],
  'photo.none': ['未拍照', 'No photo yet'],
  'progress.title': ['制卡进度', 'Issuance progress'],
  'progress.left': ['预计剩余', 'Time left'],
  'progress.seconds': ['秒', 's'],
  'progress.running': ['正在制卡，请稍候。制卡中请勿打开打印机上盖。', 'Making the card. Do not open the printer cover meanwhile.'],
  'progress.retry': ['设备处理好后重试', 'Retry once the device is fixed'],
  'progress.stop_way': ['停止制卡，联系维护人员', 'Stop the counter and call for service'],
  'progress.handover': ['领卡签字', 'Hand over the card'],
  'progress.back': ['返回申请表', 'Back to the form'],
  'progress.face': ['打印出的卡面', 'The printed face'],
  'progress.issued': ['制卡完成，卡号 ', 'Card made: number '],
  'progress.awaiting-handover': ['卡已制成，请核验领卡人证件并签字领卡，卡号 ', 'Card made: check the receiver\'s ID and take the signature, number '],
  'progress.stocked': ['卡已制成并入库保管，卡号 ', 'Card made and put in stock, number '],
  'progress.to_stock': ['暂不领取，入库', 'Not now: to stock'],
  'progress.refused': ['不能制卡', 'No card can be made'],
  'progress.rolled-back': ['制卡中止，已回退（未占用卡号）', 'Stopped and rolled back (no card number used)'],
  'progress.waiting': ['制卡暂停，等待处理', 'Paused: waiting for the operator'],
  'progress.error': ['制卡出错', 'Issuance failed'],
  'progress.way_out': ['处理办法：', 'What to do:'],
  'progress.device_then_retry': ['按上面的提示处理设备，状态栏变绿后点“重试”。', 'Fix the device as shown, wait until the status bar is green, then retry.'],
  'progress.reissue_way': ['此人已有有效卡。如卡已遗失或损坏，按补换卡办理：先停用旧卡 ', 'The person already holds a live card. If it is lost or damaged, re-issue: stop the old card '],
  'progress.reissue_button': ['补换卡（停用旧卡 ', 'Re-issue (stop old card '],
  'progress.identity_way': ['请核对证件上的姓名和号码后重新提交。', 'Check the name and number against the document and submit again.'],
  'progress.deceased_way': ['系统记录此人已死亡，不能制卡。请核实后联系社保经办机构。', 'The person is recorded deceased: no card. Verify and contact the social security office.'],
  'progress.other_way': ['请核对信息后返回申请表重新提交。', 'Check the data and submit again from the form.'],
  'handover.title': ['领卡签字', 'Hand-over with signature'],
  'handover.signer': ['领卡人', 'Received by'],
  'handover.sign': ['请领卡人在下方签字：', 'The receiver signs below:'],
  'handover.clear': ['重签', 'Clear'],
  'handover.submit': ['确认领卡', 'Record the hand-over'],
  'handover.failed': ['未能发放（记录原因）', 'Could not hand over (record why)'],
  'handover.reason': ['原因', 'Reason'],
  'handover.record_failed': ['记录发放失败', 'Record the failed hand-over'],
  'handover.no_signature': ['请先签字', 'The receiver must sign first'],
  'handover.done': ['已记录领卡：', 'Hand-over recorded: '],
  'handover.failed_done': ['已记录发放失败，第 ', 'Failed hand-over recorded, attempt '],
  'handover.receiver': ['领卡人身份', 'Receiver'],
  'handover.kind_holder': ['持卡人本人（已核验身份证件）', 'The holder (ID document checked)'],
  'handover.kind_custodian': ['代领人（须有审批的代管）', 'A custodian (with a recorded approval)'],
  'handover.id_number': ['证件号码（按证件录入）', 'ID number (from the document)'],
  'handover.no_id': ['请核验领卡人证件并录入证件号码', 'Check the receiver\'s ID document and enter its number'],
  'handover.stock': ['暂不领取，入库保管（记录原因）', 'Not collected now: to stock (record why)'],
  'handover.place': ['保管地点（留空为本网点默认）', 'Storage place (empty: the station\'s)'],
  'handover.record_stock': ['入库', 'Put in stock'],
  'handover.stocked': ['已入库：', 'In stock: '],
  'f.collection': ['领卡方式', 'Collection'],
  'collection.at-counter': ['持卡人在柜台当场领取', 'The holder takes it now at the counter'],
  'collection.later': ['稍后领取（制卡后入库保管）', 'Later (the card goes to stock)'],
  'f.site': ['领卡地点（代办网点受理的申请）', 'Where the holder collects (an agent site\'s application)'],
  'site.here': ['本网点（非代办网点受理）', 'Here (not an agent site\'s application)'],
  'site.later': ['在代办网点领取：卡制成后入库，送往该网点', 'Collected at the agent site: the card goes to stock, then to the site'],
  'receive.title': ['接收制卡中心送来的卡', 'Cards made by the card centre'],
  'receive.hint': ['选择制卡中心随卡送来的交接清单（CSV 或 XLSX），逐行核对后入库；不能接收的行列出原因和处理办法。', 'Choose the delivery list that came with the cards (CSV or XLSX): each row is checked and put in stock; a row that cannot be taken in is listed with why and what to do.'],
  'receive.file': ['交接清单（CSV / XLSX）', 'Delivery list (CSV / XLSX)'],
  'receive.place': ['保管地点（留空为本网点默认）', 'Storage place (empty: the station\'s)'],
  'receive.keeper': ['保管责任人（留空为默认）', 'Keeper (empty: the default)'],
  'receive.submit': ['核对并接收', 'Check and take in'],
  'receive.no_file': ['请先选择交接清单文件', 'Choose the delivery list first'],
  'receive.row': ['行', 'Row'],
  'receive.holder': ['持卡人', 'Holder'],
  'receive.outcome': ['结果', 'Outcome'],
  'receive.why': ['保管 / 原因与处理', 'Kept / why and what to do'],
  'receive.in': ['已接收入库', 'Taken in'],
  'receive.refused': ['未接收', 'Not taken in'],
  'receive.summary': ['张接收入库，未接收行数：', ' cards taken in, rows not taken in: '],
  'move.title': ['调拨库存卡（交接双方签名）', 'Move stock cards (signed by both sides)'],
  'move.rule': ['只有台账记载的现保管人可以交出卡，接收人此后保管；卡送到持卡人领卡的代办网点时，系统发取卡短信。', 'Only the keeper the ledger names gives a card; the receiver keeps it then. A card reaching its holder\'s agent site sends the pickup SMS.'],
  'move.cards': ['卡号（多张用空格或逗号分隔）', 'Cards (separated by spaces or commas)'],
  'move.site': ['送往代办网点', 'To an agent site'],
  'move.no_site': ['（不送网点，调往保管地点）', '(no site: to a storage place)'],
  'move.place': ['保管地点（送网点可留空）', 'Storage place (empty for a site: its name)'],
  'move.giver': ['交出人（现保管人）', 'Giver (the keeper now)'],
  'move.receiver': ['接收人', 'Receiver'],
  'move.submit': ['交接调拨', 'Hand over and move'],
  'move.where': ['现保管地点与保管人', 'Now kept at, by'],
  'move.sms': ['取卡短信 / 原因', 'Pickup SMS / why'],
  'move.moved': ['已调拨', 'Moved'],
  'move.refused': ['未调拨', 'Not moved'],
  'move.summary': ['张已调拨，未调拨：', ' moved, not moved: '],
  'custody.title': ['代管审批（规则4）', 'Custody approval (RULE 4)'],
  'custody.rule': ['仅低保、特困、重度残疾人员和未成年人的卡可由他人代领代管；审批同时报省级平台，上门服务包领卡时随卡带上。', 'Only the cards of minimum-living-allowance recipients, the extremely poor, the severely disabled and minors may be held by another person; the approval is recorded at the province too, and an outreach kit carries it with the card.'],
  'custody.group': ['持卡人类别', 'Holder\'s group'],
  'custody.g_mla': ['低保对象', 'Minimum living allowance'],
  'custody.g_poor': ['特困人员', 'Extremely poor'],
  'custody.g_disabled': ['重度残疾人员', 'Severely disabled'],
  'custody.g_minor': ['未成年人', 'Minor'],
  'custody.name': ['代管人姓名', 'Custodian\'s name'],
  'custody.id': ['代管人证件号码（核验后录入，只存掩码）', 'Custodian\'s ID number (checked; kept masked)'],
  'custody.reason': ['代管理由', 'Reason'],
  'custody.until': ['有效期至', 'Valid until'],
  'custody.by': ['交卡经办人（不能是审批人）', 'Operator who hands the card over (not the approver)'],
  'custody.submit': ['记录审批', 'Record the approval'],
  'custody.done': ['已记录代管审批，省级平台审批号 ', 'Custody approval recorded; the province\'s approval number '],
  'sites.on': ['判断日期（留空为今天）', 'Judged on (empty: today)'],
  'activate.title': ['金融功能激活（仅限本人临柜）', 'Financial activation (holder in person only)'],
  'activate.present': ['持卡人本人在柜台前（非代办）', 'The holder is here in person (no proxy)'],
  'activate.id': ['已当场核验本人身份证件', 'The holder\'s ID was checked now'],
  'activate.valid': ['证件有效期止（留空按申请表）', 'ID valid until (empty: as on the application)'],
  'activate.camera': ['按“激活”时柜台摄像头当场拍照，随请求发往持卡人的银行；银行确认后才算激活。', 'Pressing Activate takes the photo with the counter\'s camera now and sends the request to the holder\'s bank; the card is active only when the bank confirms.'],
  'activate.submit': ['激活', 'Activate'],
  'activate.done': ['已激活：', 'Activated: '],
  'activate.refused': ['银行拒绝激活，请告知持卡人原因：', 'The bank refused; tell the holder its reason: '],
  'activate.reference': ['银行参考号', 'bank reference'],
  'activate.account': ['账户', 'account'],
  'cards.title': ['库存与卡片', 'Stock and cards'],
  'cards.status': ['状态', 'Status'],
  'cards.updated': ['更新时间', 'Updated'],
  'cards.count': ['张', 'cards'],
  'status.all': ['全部', 'All'],
  'status.made': ['已制未领（库存）', 'Made, not handed over (stock)'],
  'status.issued': ['已发放', 'Handed over'],
  'status.active': ['已激活', 'Activated'],
  'status.stopped': ['已停用', 'Stopped'],
  'status.recalled': ['已召回', 'Recalled'],
  'status.cancelled': ['已注销', 'Cancelled'],
  'status.failed': ['制作失败', 'Failed'],
  'load': ['查询', 'Show'],
  'dormant.title': ['久未领取的卡与召回', 'Dormant cards and recall'],
  'dormant.days': ['超过天数', 'Older than (days)'],
  'dormant.rule': ['召回前须记录第二次发放失败及原因（规则6）。', 'A card is recalled only after a failed second hand-over with its reason (rule 6).'],
  'dormant.failures': ['发放失败记录', 'Failed hand-overs'],
  'dormant.actions': ['操作', 'Actions'],
  'dormant.fail': ['记录发放失败', 'Record a failed hand-over'],
  'dormant.recall': ['召回', 'Recall'],
  'dormant.reason_prompt': ['发放失败原因：', 'Why could the card not be handed over?'],
  'dormant.recalled': ['已召回：', 'Recalled: '],
  'refusal.button': ['持卡人本人拒绝', 'Holder refuses'],
  'refusal.prompt': ['持卡人本人拒绝（规则8，记录其本人意愿）。其原话：', "The holder's own refusal (rule 8). Their words:"],
  'refusal.recorded': ['已记录持卡人本人拒绝，不再催领：', 'Refusal recorded, no longer chased: '],
  'sites.title': ['代办网点超期未送达', 'Agent sites: cards overdue'],
  'sites.rule': ['代办网点受理的申请，须在15个工作日内将卡送达网点（按国家法定节假日安排计算）。', 'A card applied for at an agent site must reach the site within 15 working days (national holiday calendar).'],
  'sites.site': ['网点', 'Site'],
  'sites.application': ['申请', 'Application'],
  'sites.applied': ['受理日期', 'Applied'],
  'sites.deadline': ['期限', 'Deadline'],
  'sites.late': ['超期工作日', 'Working days late'],
  'sites.none': ['没有超期的申请。', 'Nothing overdue.'],
  'sites.not_judged': ['无法判断（节假日安排缺失）：', 'Cannot judge (holiday notice missing): '],
  'stats.title': ['统计（报社保局）', 'Statistics for the bureau'],
  'stats.from': ['起始日期', 'From'],
  'stats.to': ['截止日期', 'To'],
  'stats.in_stock': ['在库', 'In stock'],
  'stats.dormant': ['久未领取', 'Dormant'],
  'stats.overdue': ['超期', 'Overdue'],
  'stats.day': ['日期', 'Day'],
  'stats.operator': ['操作员', 'Operator'],
  'stats.made': ['制卡', 'Made'],
  'stats.received': ['接收', 'Received'],
  'stats.issued': ['发放', 'Issued'],
  'stats.stocked': ['入库', 'Stocked'],
  'stats.activated': ['激活', 'Activated'],
  'stats.spoiled': ['废卡', 'Spoiled'],
  'stats.station': ['本站', 'This station'],
  'stats.total': ['合计', 'Total'],
  'sms.title': ['取卡短信：需人工处理', 'Pickup SMS needing a person'],
  'sms.what': ['短信或卡', 'Message or card'],
  'sms.to': ['手机/持卡人', 'Phone / holder'],
  'sms.state': ['状态', 'State'],
  'sms.reason': ['原因与处理', 'Why, and what to do'],
  'sms.none': ['没有需处理的短信。', 'Nothing needs a person.'],
  'sms.sent': ['已发送：', 'Sent: '],
  'sms.no_phone': ['无手机号', 'no phone'],
  'sms.failed': ['发送失败', 'failed'],
  'sms.retrying': ['重试中', 'retrying'],
  'sms.pending': ['待发送', 'pending'],
  'ledger.title': ['台账', 'Ledger'],
  'ledger.verify': ['校验哈希链', 'Verify the hash chain'],
  'ledger.intact': ['哈希链完整，条目数：', 'Hash chain intact, entries: '],
  'ledger.broken': ['哈希链被破坏：', 'Hash chain broken: '],
  'ledger.at': ['时间', 'Time'],
  'ledger.operator': ['操作员', 'Operator'],
  'ledger.event': ['事项', 'Event'],
  'failed': ['失败：', 'Failed: '],
};

// The issuance steps in order, with their names on screen.
const STEPS = [
  ['accept', '受理', 'Accept'],
  ['archive-check', '档案核查', 'Archive check'],
  ['claim', '锁定人员并分配卡号', 'Claim and card number'],
  ['stop-old-card', '停用旧卡', 'Stop the old card'],
  ['verify-identity', '身份核验', 'Identity verification'],
  ['feed-card', '进卡到芯片位', 'Feed to the chip station'],
  ['personalise-financial', '写入金融应用', 'Financial application'],
  ['print-face', '打印卡面并覆膜', 'Print and laminate'],
  ['personalise-ssc', '写入社保应用', 'Social security application'],
  ['verify-chip', '芯片回读核对', 'Chip read-back'],
  ['commit', '记入档案', 'Commit to the archives'],
  ['eject', '出卡', 'Eject'],
  ['hand-over', '交付', 'Hand-over'],
];

const DEVICE_NAMES = {
  'card-reader': ['读卡器', 'Card reader'],
  'psam': ['PSAM卡', 'PSAM'],
  'printer': ['打印机', 'Printer'],
  'ribbon': ['色带', 'Ribbon'],
  'feeder': ['进卡器', 'Feeder'],
  'cover': ['打印机上盖', 'Cover'],
  'camera': ['摄像头', 'Camera'],
};

// What the operator does, by the station's problem code.
const PROBLEMS = {
  'cover-open': ['上盖打开：请合上打印机上盖', 'Cover open: close the printer cover'],
  'feeder-empty': ['进卡器无卡：请放入空白卡', 'Feeder empty: put blank cards in'],
  'ribbon-out': ['色带用完或未装：请更换色带后合上盖', 'No ribbon: put in a new ribbon, close the cover'],
  'ribbon-low': ['色带将尽：请备好新色带', 'Ribbon low: have a new one ready'],
  'no-card': ['未插PSAM卡：请插入PSAM卡', 'No PSAM: insert it in the SAM slot'],
  'no-reader': ['找不到读卡器：请检查USB连线', 'Reader missing: check its USB cable'],
  'unreachable': ['打印机无响应：请检查电源和连线', 'Printer not answering: check power and cable'],
  'no-camera': ['无摄像头：请连接摄像头', 'No camera: connect it'],
};

// The station's validation rules in Chinese (the station explains them in English; the
// English text stays in the tooltip). Unknown rules show the station's words.
const RULES_ZH = {
  'declaration-required': '申请人须阅读并同意申明',
  'consent-to-stop': '补换卡须申请人签字同意停用原卡',
  'previous-card-matches': '已持卡卡号与补换的原卡号不一致',
  'insurance-category': '请从列表中选择参保类别',
  'required': '必填项未填写',
  'address-required': '请填写居住地址或单位地址',
  'contact-required': '请填写手机或固定电话',
  'guardian-required': '未满16周岁，须填写监护人证件类型、号码、姓名和关系',
  'guardian-adult': '监护人须年满18周岁',
  'guardian-self': '监护人不能是申请人本人',
  'guardian-document': '请填写监护人本人证件',
  'photo-required': '请拍照（未满7周岁可免）',
  'id-check-character': '证件号码校验位不对，请逐位核对证件',
  'id-length': '证件号码位数不对（居民身份证18位）',
  'id-character': '证件号码含有不允许的字符',
  'id-format': '证件号码格式不对',
  'id-birth-date': '证件号码中的出生日期无效',
  'id-address-code': '证件号码前6位地区码无效',
  'id-province': '证件号码前2位省份码无效',
  'id-expired': '证件已过期，请持有效证件办理',
  'id-not-yet-valid': '证件尚未生效',
  'id-validity-format': '有效期格式应为 YYYY-MM-DD 或“长期”',
  'id-validity-order': '有效期止不能早于起',
  'id-validity-period': '有效期年限与证件不符，请核对',
  'id-type': '证件类型不对',
  'household-register-age': '户口簿仅限未满16周岁使用',
  'birth-date-matches-id': '出生日期与证件号码不一致',
  'birth-date-future': '出生日期不能晚于今天',
  'sex-matches-id': '性别与证件号码不一致',
  'sex-code': '性别须为男或女',
  'ethnicity-code': '民族代码无效',
  'nationality-code': '国籍代码无效（ISO 3166 三字母）',
  'nationality-matches-id-type': '国籍与证件类型不符',
  'region-format': '行政区划代码应为6位数字',
  'region-unknown': '行政区划代码不存在',
  'region-withdrawn': '该行政区划代码已撤销',
  'name-empty': '请填写姓名',
  'name-character': '姓名含有不允许的字符',
  'name-space': '姓名中不应有空格',
  'name-card-length': '姓名过长，卡面放不下',
  'mobile-format': '手机号码应为11位数字',
  'phone-format': '电话号码格式不对',
  'postcode-format': '邮编应为6位数字',
  'email-format': '电子邮箱格式不对',
  'date-format': '日期格式应为 YYYY-MM-DD',
};

// Ledger events in Chinese; the code stays beside them.
const EVENTS_ZH = {
  'session.opened': '登录', 'session.closed': '退出', 'session.refused': '登录被拒',
  'job.requested': '提交制卡', 'job.forbidden': '无权制卡', 'photo.captured': '拍照',
  'person.claimed': '锁定人员、分配卡号', 'card.fed': '进卡', 'card.printed': '打印卡面',
  'card.personalised': '写入芯片', 'card.made': '制卡完成', 'card.ejected': '出卡',
  'card.handed_over': '领卡', 'card.handover_failed': '发放失败', 'card.activated': '金融激活',
  'card.stopped': '停用', 'card.recalled': '召回', 'card.cancelled': '注销', 'card.rejected': '废卡',
  'card.custody': '代管', 'card.replaced': '补换卡', 'application.refused': '申请被拒',
  'application.rolled_back': '制卡回退', 'card.received': '接收代制卡', 'card.moved': '库存卡调拨', 'ledger.read': '查阅台账', 'sim.action': '模拟设备操作',
};

let lang = localStorage.getItem('lang') || 'zh';
const t = (key) => (TEXT[key] ? TEXT[key][lang === 'en' ? 1 : 0] : key);
const pick = (pair) => pair[lang === 'en' ? 1 : 0];
const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => Array.from(document.querySelectorAll(sel));

function applyLanguage() {
  document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  $$('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $('#lang-toggle').textContent = lang === 'en' ? '中文' : 'English';
  document.title = t('title');
  renderSteps();
  renderDevices();
  renderValidation();
  renderVerdict();
  renderResult();
  fillCodes();
}

// ---------------------------------------------------------------- session and API
// The session itself is an HttpOnly cookie this script never sees; it keeps only who is logged
// in and the CSRF token it sends back with every change.
const session = { csrf: null, operator: null, role: null };

// `poll`: a background request (device status), which does not keep an idle session open.
async function api(method, path, body, poll) {
  const headers = {};
  if (poll) headers['X-Station-Poll'] = '1';
  if (method !== 'GET' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  const text = await r.text();
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
  if (!r.ok) {
    if (r.status === 401 && session.operator) { endSession(); }
    const e = new Error((data && data.error) || r.statusText);
    e.status = r.status;
    throw e;
  }
  return data;
}

function show(screen) {
  $$('.screen').forEach((s) => { s.hidden = s.id !== 'screen-' + screen; });
  $$('#nav [data-nav]').forEach((b) => {
    if (b.dataset.nav === screen) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  });
  if (screen === 'apply') startCamera(); else stopCamera();
  if (screen === 'apply' && validation) scheduleValidate();
  if (screen === 'cards') loadCards();
  if (screen === 'dormant') { loadDormant(); loadSites(); loadSms(); loadStats(); }
  if (screen === 'ledger') loadLedger();
  if (screen === 'stock') fillSites();
  if (screen === 'losses') loadSchedule();
  if (screen === 'progress') loadWaiting();
  const first = $('#screen-' + screen + ' input:not([type=hidden]), #screen-' + screen + ' select');
  if (screen === 'apply') $('#f-id-type').focus(); else if (first && screen !== 'progress') first.focus();
}

async function login(ev) {
  ev.preventDefault();
  $('#login-error').textContent = '';
  try {
    const r = await api('POST', '/api/session', { operator: $('#login-name').value, password: $('#login-password').value });
    $('#login-password').value = '';
    await enter(r);
  } catch (e) {
    $('#login-error').textContent = t('login.failed') + e.message;
  }
}

// A session is open (log-in, or a reload of the page while the cookie is valid). A first
// password opens only the screen that replaces it.
async function enter(r) {
  session.csrf = r.csrf; session.operator = r.operator; session.role = r.role;
  if (r.must_change) {
    $('#who').textContent = r.operator + ' · ' + r.role;
    $('#who').hidden = false; $('#logout').hidden = false;
    show('password');
    $('#password-current').focus();
    return;
  }
  $('#who').textContent = r.operator + ' · ' + r.role;
  $('#who').hidden = false; $('#logout').hidden = false; $('#devices').hidden = false;
  $$('#nav [data-role]').forEach((b) => { b.hidden = !b.dataset.role.split(' ').includes(r.role); });
  await loadCodes();
  await loadBanks();
  await loadSiteList();
  openEvents();
  pollDevices();
  show(r.role === 'auditor' ? 'ledger' : 'apply');
  // The menu appears last: a choice made while the codes were loading would be overridden.
  $('#nav').hidden = false;
}

async function changePassword(ev) {
  ev.preventDefault();
  $('#password-error').textContent = '';
  if ($('#password-new').value !== $('#password-repeat').value) {
    $('#password-error').textContent = t('password.mismatch');
    return;
  }
  try {
    const r = await api('POST', '/api/session/password', { current: $('#password-current').value, new: $('#password-new').value });
    ['#password-current', '#password-new', '#password-repeat'].forEach((id) => { $(id).value = ''; });
    await enter(r);
  } catch (e) {
    $('#password-error').textContent = t('password.failed') + e.message;
  }
}

async function logout() {
  if (session.operator) await api('DELETE', '/api/session').catch(() => {});
  endSession();
}

// Back to the log-in screen (logged out here, or the station ended the session: idle, expired).
function endSession() {
  session.csrf = null; session.operator = null; session.role = null;
  if (events) events.close();
  stopCamera();
  clearTimeout(deviceTimer);
  $('#who').hidden = true; $('#logout').hidden = true; $('#nav').hidden = true; $('#devices').hidden = true;
  show('login');
}

// ---------------------------------------------------------------- device status, always in view
let devices = [];
let deviceTimer = null;

async function pollDevices() {
  clearTimeout(deviceTimer);
  if (!session.operator) return;
  try { devices = (await api('GET', '/api/devices', undefined, true)).devices; } catch (_) { devices = []; }
  renderDevices();
  deviceTimer = setTimeout(pollDevices, 1500);
}

function renderDevices() {
  const list = $('#device-list');
  list.textContent = '';
  devices.forEach((d) => {
    const li = document.createElement('li');
    li.className = 'device' + (d.ok ? (d.problem ? ' warn' : '') : ' fault');
    li.dataset.device = d.device;
    li.dataset.ok = d.ok ? 'true' : 'false';
    const name = DEVICE_NAMES[d.device] ? pick(DEVICE_NAMES[d.device]) : d.device;
    li.append(document.createTextNode((d.ok ? '✓ ' : '✗ ') + name));
    if (d.device === 'ribbon' && d.ok) li.append(document.createTextNode(' ' + d.detail.replace(/ prints left/, lang === 'en' ? ' left' : '张')));
    if (d.problem) {
      const a = document.createElement('span');
      a.className = 'action';
      a.textContent = PROBLEMS[d.problem] ? pick(PROBLEMS[d.problem]) : d.action;
      li.append(a);
    }
    li.title = d.detail;
    list.append(li);
  });
  renderDeviceWayOut();
}

const deviceFaults = () => devices.filter((d) => !d.ok);

// ---------------------------------------------------------------- codes for the form
let codes = { id_types: [], ethnicities: [] };

async function loadCodes() {
  codes = await api('GET', '/api/codes');
  fillCodes();
}

function fillCodes() {
  const fill = (select, options, keep) => {
    const value = select.value || keep;
    select.textContent = '';
    options.forEach(([v, label]) => { const o = document.createElement('option'); o.value = v; o.textContent = label; select.append(o); });
    select.value = value;
  };
  const idTypes = codes.id_types.map((x) => [x.key, x.zh + (lang === 'en' ? ' (' + x.key.replace(/_/g, ' ') + ')' : '')]);
  fill($('#f-id-type'), idTypes, 'resident_id');
  fill($('#g-id-type'), idTypes, 'resident_id');
  fill($('#f-ethnicity'), [['', t('choose')]].concat(codes.ethnicities.map((x) => [x.code, x.code + ' ' + x.zh])), '01');
  // RULE 8: the cooperating banks of this counter's region; the person chooses, nobody else.
  fill($('#f-category'), [['', t('choose')]].concat(categories.map((c) => [c.key, c.name])), '');
  fill($('#f-bank'), [['', t('choose')]].concat(banks.map((b) => [b.code, b.short_name + (b.activates_here ? '' : '（' + t('bank.elsewhere') + '）')])), '');
  fillSites();
}

let banks = [];

// The agent sites of [[sites]]: where a holder collects a card applied for at a site, and
// where the supervisor sends stock cards. None configured: the form offers no site.
let siteList = [];

async function loadSiteList() {
  siteList = (await api('GET', '/api/sites')).sites || [];
  fillSites();
}

function fillSites() {
  const fill = (select, first) => {
    const value = select.value;
    select.textContent = '';
    [['', first]].concat(siteList.map((x) => [x.id, x.name + ' (' + x.id + ')'])).forEach(([v, label]) => {
      const o = document.createElement('option'); o.value = v; o.textContent = label; select.append(o);
    });
    select.value = siteList.some((x) => x.id === value) ? value : '';
  };
  fill($('#f-site'), t('site.here'));
  fill($('#move-site'), t('move.no_site'));
  $('#site-field').hidden = siteList.length === 0;
  siteChosen();
}

// An application for an agent site is collected there: its card goes to stock, never to the
// hand-over at this counter.
function siteChosen() {
  const site = $('#f-site').value;
  const collection = $('#f-collection');
  if (site) collection.value = 'later';
  collection.disabled = Boolean(site);
  collection.title = site ? t('site.later') : '';
}

async function loadBanks() {
  banks = (await api('GET', '/api/banks')).banks || [];
  const form = await api('GET', '/api/insurance-categories');
  categories = form.categories || [];
  $('#declaration-text').textContent = form.declaration || '';
  fillCodes();
}

// The medical-insurance categories of the form (参保类别), a closed list from the station.
let categories = [];

// ---------------------------------------------------------------- the application form
const form = () => $('#apply-form');
let photoPath = null;
let validation = null;
let touched = new Set();
let submitted = false;
let validateTimer = null;

function setPath(obj, path, value) {
  const keys = path.split('.');
  let o = obj;
  keys.slice(0, -1).forEach((k) => { o[k] = o[k] || {}; o = o[k]; });
  o[keys[keys.length - 1]] = value;
}

// The applicant JSON of the applicant crate, from the form; empty fields are left out.
function applicantFromForm() {
  const a = { holder: {} };
  $$('#apply-form [name]').forEach((el) => {
    if (el.name === 'reissue_of') return;
    if (el.closest('#guardian') && $('#guardian').hidden) return;
    if (el.type === 'checkbox') { if (el.checked) setPath(a, el.name, true); return; }
    const v = el.value.trim();
    if (v !== '') setPath(a, el.name, el.name.endsWith('id_number') || el.name === 'holder.nationality' ? v.toUpperCase() : v);
  });
  if (photoPath) a.photo = photoPath;
  return a;
}

// A resident ID number carries the birth date and sex: fill them when still empty.
function deriveFromId() {
  const n = $('#f-id-number').value.trim().toUpperCase();
  const type = $('#f-id-type').value;
  if (!/^\d{17}[\dX]$/.test(n) || !(type === 'resident_id' || type === 'household_register')) return;
  if (!$('#f-birth').value) $('#f-birth').value = n.slice(6, 10) + '-' + n.slice(10, 12) + '-' + n.slice(12, 14);
  if (!$('#f-sex').value) $('#f-sex').value = Number(n[16]) % 2 === 1 ? '1' : '2';
  if (!$('#f-birthplace').value) $('#f-birthplace').value = n.slice(0, 6);
}

function scheduleValidate() {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validate, 250);
}

async function validate() {
  try {
    // A re-issue's form is judged as one: the old card's stop needs the signed consent.
    const reissue = $('#f-reissue').value.trim().toUpperCase();
    validation = await api('POST', '/api/validate' + (reissue ? '?reissue_of=' + encodeURIComponent(reissue) : ''), applicantFromForm());
  } catch (e) {
    validation = { valid: false, errors: [{ field: '', message: e.message, hint: '' }], warnings: [] };
  }
  renderValidation();
  return validation;
}

function renderValidation() {
  if (!validation) return;
  const errs = validation.errors || [];
  $('#guardian').hidden = !(validation.guardian_required || $$('#guardian input').some((i) => i.value.trim()));
  const shown = (field) => submitted || [...touched].some((t) => field === t || field.startsWith(t + '.') || t.startsWith(field + '.'));
  $$('[data-error-for]').forEach((p) => {
    const field = p.dataset.errorFor;
    const mine = errs.filter((e) => e.field === field && shown(field));
    p.textContent = '';
    mine.forEach((e) => {
      const line = document.createElement('span');
      line.textContent = explain(e);
      line.title = e.message + ' → ' + e.hint;
      p.append(line);
      if (lang === 'en' || !RULES_ZH[e.rule]) {
        const hint = document.createElement('span');
        hint.className = 'hint';
        hint.textContent = '→ ' + e.hint;
        p.append(hint);
      }
    });
  });
  $$('#apply-form [name]').forEach((el) => {
    const bad = errs.some((e) => e.field === el.name) && shown(el.name);
    el.setAttribute('aria-invalid', bad ? 'true' : 'false');
  });
  const summary = $('#form-summary');
  if (submitted && errs.length) {
    summary.hidden = false;
    summary.textContent = t('apply.fix');
    const ul = document.createElement('ul');
    errs.forEach((e) => {
      const li = document.createElement('li');
      const el = document.querySelector('#apply-form [name="' + e.field + '"]');
      const label = el && el.labels && el.labels[0] ? el.labels[0].textContent : e.field;
      li.textContent = (label ? label + '：' : '') + explain(e);
      ul.append(li);
    });
    summary.append(ul);
  } else {
    summary.hidden = true;
  }
  const live = validation.live_cards || [];
  const warn = $('#live-card-warning');
  if (live.length && !$('#f-reissue').value) {
    warn.hidden = false;
    warn.textContent = t('apply.live') + live.map((c) => c.card_number).join(', ') + '. ' + t('apply.live_way') + ' ';
    const b = document.createElement('button');
    b.type = 'button'; b.id = 'use-reissue'; b.textContent = t('apply.use_reissue');
    b.onclick = () => { useReissue(live[0].card_number); };
    warn.append(b);
  } else {
    warn.hidden = true;
  }
}

// A re-issue of `card`: the form names it as the card held, and the applicant signs the consent
// to stop it before the job can start.
function useReissue(card) {
  $('#f-reissue').value = card;
  if (!$('#f-prev-card').value) $('#f-prev-card').value = card;
  touched.add('previous_card.consent_to_stop');
  scheduleValidate();
  $('#f-consent').focus();
}

function explain(e) {
  if (lang === 'en' || !RULES_ZH[e.rule]) return e.message;
  return RULES_ZH[e.rule];
}

function onFormInput(ev) {
  if (ev.target.name) touched.add(ev.target.name);
  if (ev.target.id === 'f-id-number' || ev.target.id === 'f-id-type') deriveFromId();
  scheduleValidate();
}

async function submitApplication(ev) {
  ev.preventDefault();
  submitted = true;
  clearTimeout(validateTimer);
  const v = await validate();
  if (!v.valid) { $('#form-summary').focus(); return; }
  if (v.photo_required && !photoPath) {
    const s = $('#form-summary');
    s.hidden = false; s.textContent = t('apply.photo_needed'); s.focus();
    return;
  }
  const reissue = $('#f-reissue').value.trim().toUpperCase() || null;
  startJob(applicantFromForm(), reissue, $('#f-site').value || null);
}

function resetForm() {
  form().reset();
  $('#f-nationality').value = 'CHN';
  fillCodes();
  siteChosen();
  photoPath = null; lastVerdict = null; validation = null; touched = new Set(); submitted = false;
  $('#photo-thumb').hidden = true; $('#photo-verdict').textContent = ''; $('#photo-verdict').className = 'verdict';
  $$('[data-error-for]').forEach((p) => { p.textContent = ''; });
  $('#form-summary').hidden = true; $('#live-card-warning').hidden = true; $('#guardian').hidden = true;
}

// ---------------------------------------------------------------- camera and photo check
let cameraTimer = null;
let cameraOn = false;

// Each frame is fetched whole before it replaces the last one, so the preview never blanks.
function startCamera() {
  if (cameraOn || !session.operator) return;
  cameraOn = true;
  const img = $('#camera');
  const next = async () => {
    if (!cameraOn || !session.operator) return;
    try {
      const r = await fetch('/api/camera/frame?n=' + Date.now(), { headers: { 'X-Station-Poll': '1' } });
      if (!r.ok) throw new Error((await r.json()).error);
      const old = img.src;
      img.src = URL.createObjectURL(await r.blob());
      if (old.startsWith('blob:')) URL.revokeObjectURL(old);
      $('#camera-error').textContent = '';
      cameraTimer = setTimeout(next, 400);
    } catch (e) {
      $('#camera-error').textContent = pick(PROBLEMS['no-camera']) + ' (' + e.message + ')';
      cameraTimer = setTimeout(next, 3000);
    }
  };
  next();
}

function stopCamera() {
  cameraOn = false;
  clearTimeout(cameraTimer);
}

let lastVerdict = null;

// The photo file the applicant brought: checked by the station like a camera frame.
async function uploadPhoto() {
  const file = $('#photo-file').files[0];
  if (!file) return;
  const verdict = $('#photo-verdict');
  verdict.className = 'verdict';
  verdict.textContent = t('photo.taking');
  try {
    const r = await fetch('/api/photo/upload', {
      method: 'POST',
      headers: { 'Content-Type': file.type || 'application/octet-stream', 'X-CSRF-Token': session.csrf },
      body: file,
    });
    const data = await r.json().catch(() => ({ error: r.statusText }));
    if (!r.ok) throw new Error(data.error || r.statusText);
    lastVerdict = data;
    photoPath = data.passed ? data.photo : null;
    renderVerdict();
  } catch (e) {
    lastVerdict = null;
    verdict.className = 'verdict fail';
    verdict.textContent = '✗ ' + e.message;
  }
  $('#photo-file').value = '';
  scheduleValidate();
}

async function capturePhoto() {
  const verdict = $('#photo-verdict');
  verdict.className = 'verdict';
  verdict.textContent = t('photo.taking');
  try {
    lastVerdict = await api('POST', '/api/photo/capture');
    photoPath = lastVerdict.passed ? lastVerdict.photo : null;
    renderVerdict();
  } catch (e) {
    lastVerdict = null;
    verdict.className = 'verdict fail';
    verdict.textContent = '✗ ' + e.message;
  }
  scheduleValidate();
}

function renderVerdict() {
  const verdict = $('#photo-verdict');
  const r = lastVerdict;
  if (!r) return;
  verdict.textContent = '';
  if (r.passed && r.photo) {
    verdict.className = 'verdict pass';
    verdict.textContent = '✓ ' + t('photo.pass') + (r.size ? ' · ' + r.size[0] + '×' + r.size[1] : '') + (r.dpi ? ' · ' + r.dpi + ' dpi' : '') + ' · ' + Math.round(r.bytes / 1024) + ' KB';
    const thumb = $('#photo-thumb');
    thumb.src = '/api/' + r.photo;
    thumb.hidden = false;
  } else {
    verdict.className = 'verdict fail';
    verdict.textContent = '✗ ' + t('photo.fail');
    const ul = document.createElement('ul');
    (r.reasons || []).forEach((x) => { const li = document.createElement('li'); li.textContent = lang === 'en' ? x.en : x.zh; ul.append(li); });
    verdict.append(ul);
  }
}

// ---------------------------------------------------------------- the job and its progress
let events = null;
let stepSeconds = {};
let job = null; // { request, id, applicant, reissue, steps: {name: {state, began, took}}, result, began }
let pending = [];
let tick = null;

function openEvents() {
  if (events) events.close();
  events = new EventSource('/api/events');
  events.onmessage = (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch (_) { return; }
    if (job && job.request === null) pending.push(e); else onEvent(e);
  };
}

function onEvent(e) {
  if (!job) return;
  if (e.event === 'started' && e.request_id === job.request) { job.active = true; return; }
  // Another counter window's job may be at the desk or on the devices meanwhile: a step
  // counts when it names this request.
  if (e.event === 'step' && job.active && e.request_id === job.request) {
    job.id = e.job;
    const s = job.steps[e.step];
    if (!s) return;
    if (e.phase === 'begin') { s.state = 'running'; s.began = Date.now(); }
    if (e.phase === 'done') { s.state = 'done'; s.took = s.began ? (Date.now() - s.began) / 1000 : 0; }
    renderSteps();
    return;
  }
  if (e.event === 'finished' && e.request_id === job.request) {
    job.active = false;
    if (e.job) job.id = e.job;
    job.result = { status: e.status, detail: e.detail, action: e.action };
    const made = ['issued', 'awaiting-handover', 'stocked'].includes(e.status);
    Object.values(job.steps).forEach((s) => { if (s.state === 'running') s.state = made ? 'done' : 'failed'; });
    // The card is out: the hand-over waits for the receiver's ID check and signature.
    if (e.status === 'awaiting-handover') job.steps['hand-over'].state = 'waiting';
    // The register did not confirm the applicant: the verification waits for the correction.
    if (e.status === 'correcting') job.steps['verify-identity'].state = 'correcting';
    renderSteps();
    renderResult(true);
  }
}

async function startJob(applicant, reissue, site) {
  const collection = site ? 'later' : $('#f-collection').value || 'at-counter';
  job = { request: null, id: null, active: false, applicant, reissue, site, collection, result: null, began: Date.now(), steps: {} };
  STEPS.forEach(([name]) => { job.steps[name] = { state: 'pending' }; });
  pending = [];
  show('progress');
  renderSteps();
  renderResult();
  const at = site && siteList.find((x) => x.id === site);
  $('#progress-who').textContent = (applicant.holder.name || '') + (reissue ? ' · ' + t('apply.reissue') + ' ' + reissue : '') + (at ? ' · ' + at.name : '');
  try { stepSeconds = Object.fromEntries((await api('GET', '/api/steps')).steps.map((s) => [s.step, s.seconds])); } catch (_) { /* 1 s a step */ }
  try {
    const body = { applicant, collection: job.collection };
    if (reissue) body.reissue_of = reissue;
    if (site) body.site = site;
    const r = await api('POST', '/api/jobs', body);
    job.request = r.request_id;
    const queued = pending; pending = [];
    queued.forEach(onEvent);
  } catch (e) {
    job.request = -1;
    job.result = { status: 'error', detail: e.message };
    renderResult();
  }
  clearInterval(tick);
  tick = setInterval(renderSteps, 500);
}

function timeLeft() {
  if (!job) return 0;
  let left = 0;
  STEPS.forEach(([name]) => {
    const s = job.steps[name];
    const est = stepSeconds[name] !== undefined ? stepSeconds[name] : 1;
    if (s.state === 'pending') left += est;
    if (s.state === 'running') left += Math.max(0, est - (Date.now() - s.began) / 1000);
  });
  return job.result ? 0 : left;
}

function renderSteps() {
  const ol = $('#steps');
  if (!ol) return;
  ol.textContent = '';
  let done = 0;
  STEPS.forEach(([name, zh, en]) => {
    const s = job ? job.steps[name] : { state: 'pending' };
    if (s.state === 'done') done += 1;
    const li = document.createElement('li');
    li.dataset.step = name;
    li.dataset.state = s.state;
    const label = document.createElement('span');
    label.className = 'state';
    label.textContent = ' ' + (lang === 'en' ? en : zh);
    const time = document.createElement('span');
    const stateWord = { pending: ['等待', 'waiting'], running: ['进行中', 'running'], done: ['完成', 'done'], failed: ['失败', 'failed'], waiting: ['待签字', 'awaiting the signature'], correcting: ['待更正', 'awaiting the correction'] }[s.state];
    time.textContent = pick(stateWord) + (s.state === 'done' && s.took !== undefined ? ' · ' + s.took.toFixed(1) + t('progress.seconds') : '');
    li.append(label, time);
    ol.append(li);
  });
  const finished = job && job.result && ['issued', 'stocked'].includes(job.result.status);
  $('#progress-bar').style.width = (finished ? 100 : Math.round((100 * done) / STEPS.length)) + '%';
  $('#time-left').textContent = job ? Math.ceil(timeLeft()) + ' ' + t('progress.seconds') : '—';
  if (job && job.result) clearInterval(tick);
}

function renderResult(fresh = false) {
  const box = $('#job-result');
  const way = $('#result-way-out');
  box.textContent = ''; way.textContent = ''; way.hidden = true;
  delete box.dataset.status;
  ['#retry-button', '#reissue-button', '#to-handover', '#to-stock', '#back-to-form', '#face-figure', '#print-form'].forEach((s) => { $(s).hidden = true; });
  if (!job) return;
  // The application form of a job that exists, to print for the applicant's signature.
  $('#print-form').hidden = !job.id;
  if (!job.result) {
    const p = document.createElement('p');
    p.className = 'running';
    p.textContent = t('progress.running');
    box.append(p);
    return;
  }
  const { status, detail } = job.result;
  box.dataset.status = status;
  if (status === 'held') { renderHeld(box, way); return; }
  if (status === 'correcting') { renderCorrecting(box, way); return; }
  const head = document.createElement('p');
  if (['issued', 'awaiting-handover', 'stocked'].includes(status)) {
    head.className = 'ok';
    head.textContent = '✓ ' + t('progress.' + status) + detail;
    box.append(head);
    // A card waiting at the counter: the receiver shows their ID and signs, or it goes to stock.
    const waits = status === 'awaiting-handover';
    $('#to-handover').hidden = !waits;
    $('#to-stock').hidden = !waits;
    $('#face-preview').src = '/api/jobs/' + job.id + '/face?n=' + Date.now();
    $('#face-figure').hidden = false;
    if (fresh && waits) $('#to-handover').focus();
    return;
  }
  head.className = 'bad';
  head.textContent = '✗ ' + t('progress.' + status);
  // The register did not confirm the applicant after the corrections allowed (or the operator
  // ended it): the application ended at its verification.
  if (status === 'rolled-back' && /^(verify-identity: )?identity verification/.test(detail)) {
    head.textContent = '✗ ' + pick(['身份核查未通过，申请已结束（未占用卡号）', 'Identity not confirmed: the application ended (no card number used)']);
  }
  const d = document.createElement('p');
  d.className = 'detail';
  d.textContent = detail;
  box.append(head, d);
  way.hidden = false;
  const title = document.createElement('strong');
  title.textContent = t('progress.way_out');
  way.append(title);
  const steps = document.createElement('ol');
  const add = (text) => { const li = document.createElement('li'); li.textContent = text; steps.append(li); };
  const live = /live card ([A-Z0-9]{9})/.exec(detail);
  if (status === 'refused' && live) {
    add(t('progress.reissue_way') + live[1] + '.');
    const b = $('#reissue-button');
    b.textContent = t('progress.reissue_button') + live[1] + ')';
    b.hidden = false;
    // Back to the form: the applicant signs the consent to stop the old card first.
    b.onclick = () => { show('apply'); useReissue(live[1]); };
  } else if (status === 'refused' && /deceased/.test(detail)) {
    add(t('progress.deceased_way'));
  } else if (status === 'refused' || /identity/i.test(detail)) {
    add(t('progress.identity_way'));
  } else {
    // A device stopped the job: what the driver asked for, what each faulty device needs
    // (kept up to date as the status bar changes), then retry.
    steps.id = 'device-way-out';
    $('#retry-button').hidden = false;
  }
  way.append(steps);
  renderDeviceWayOut();
  $('#back-to-form').hidden = false;
}

function renderDeviceWayOut() {
  const steps = $('#device-way-out');
  if (!steps) return;
  steps.textContent = '';
  const add = (text) => { const li = document.createElement('li'); li.textContent = text; steps.append(li); };
  const action = job && job.result && job.result.action;
  if (action && action.kind === 'operator') add(action.what);
  else if (action && action.kind === 'stop') add(t('progress.stop_way'));
  const faults = deviceFaults();
  faults.forEach((f) => add((DEVICE_NAMES[f.device] ? pick(DEVICE_NAMES[f.device]) + '：' : '') + (PROBLEMS[f.problem] ? pick(PROBLEMS[f.problem]) : f.action)));
  if (!faults.length) add(t('progress.other_way'));
  add(t('progress.device_then_retry'));
}

// ---------------------------------------------------------------- hand-over with signature
const pad = { drawing: false, ink: 0 };

function setupSignature() {
  const c = $('#signature');
  const ctx = c.getContext('2d');
  const at = (ev) => {
    const r = c.getBoundingClientRect();
    return [((ev.clientX - r.left) * c.width) / r.width, ((ev.clientY - r.top) * c.height) / r.height];
  };
  c.addEventListener('pointerdown', (ev) => {
    pad.drawing = true;
    c.setPointerCapture(ev.pointerId);
    ctx.lineWidth = 4; ctx.lineCap = 'round'; ctx.strokeStyle = '#000';
    ctx.beginPath(); ctx.moveTo(...at(ev));
  });
  c.addEventListener('pointermove', (ev) => {
    if (!pad.drawing) return;
    ctx.lineTo(...at(ev)); ctx.stroke();
    pad.ink += 1;
  });
  const end = () => { pad.drawing = false; };
  c.addEventListener('pointerup', end);
  c.addEventListener('pointercancel', end);
  $('#signature-clear').onclick = clearSignature;
}

function clearSignature() {
  const c = $('#signature');
  c.getContext('2d').clearRect(0, 0, c.width, c.height);
  pad.ink = 0;
}

// The receiver of a card (RULE 4): the holder, the number read from the ID document checked
// now; or a custodian, whose approval for this holder the station must hold.
function handoverReceiver() {
  const id = $('#handover-id-number').value.trim().toUpperCase();
  if (!id) return null;
  if ($('#handover-kind').value === 'custodian') return { kind: 'custodian', name: $('#handover-signer').value.trim(), id_number: id };
  return { kind: 'holder', id_number: id };
}

async function recordHandover(ev) {
  ev.preventDefault();
  const out = $('#handover-result');
  delete out.dataset.done;
  const card = $('#handover-card').value.trim().toUpperCase();
  const receiver = handoverReceiver();
  if (!receiver) { out.className = 'error'; out.textContent = t('handover.no_id'); $('#handover-id-number').focus(); return; }
  if (pad.ink < 5) { out.className = 'error'; out.textContent = t('handover.no_signature'); $('#signature').focus(); return; }
  try {
    const r = await api('POST', '/api/cards/' + encodeURIComponent(card) + '/handover', {
      delivered: true,
      signer: $('#handover-signer').value.trim(),
      signature_png: $('#signature').toDataURL('image/png'),
      receiver,
    });
    out.className = 'ok-text';
    // The number back from the station is masked; the one typed is cleared from the screen.
    out.textContent = '✓ ' + t('handover.done') + card + ' · ' + (r.receiver.name || '') + ' ' + r.receiver.id_number;
    $('#handover-id-number').value = '';
    out.dataset.done = card;
  } catch (e) {
    out.className = 'error';
    out.textContent = t('failed') + e.message;
  }
}

async function recordStock() {
  const out = $('#handover-result');
  const card = $('#handover-card').value.trim().toUpperCase();
  try {
    const body = { reason: $('#handover-stock-reason').value.trim() };
    const place = $('#handover-stock-place').value.trim();
    if (place) body.place = place;
    const r = await api('POST', '/api/cards/' + encodeURIComponent(card) + '/stock', body);
    out.className = 'ok-text';
    out.textContent = '✓ ' + t('handover.stocked') + card + ' · ' + r.place + ' · ' + r.keeper;
    out.dataset.stocked = card;
  } catch (e) {
    out.className = 'error';
    out.textContent = t('failed') + e.message;
  }
}

async function recordFailedHandover() {
  const out = $('#handover-result');
  const card = $('#handover-card').value.trim().toUpperCase();
  try {
    const r = await api('POST', '/api/cards/' + encodeURIComponent(card) + '/handover', { delivered: false, reason: $('#handover-reason').value.trim() });
    out.className = 'ok-text';
    out.textContent = t('handover.failed_done') + r.attempt;
  } catch (e) {
    out.className = 'error';
    out.textContent = t('failed') + e.message;
  }
}

// ---------------------------------------------------------------- activation, face to face
// The station takes the photo with the counter's camera when the request is made (no photo is
// sent from here) and asks the holder's bank; the bank's refusal is shown with its reason.
async function activate(ev) {
  ev.preventDefault();
  const out = $('#activate-result');
  const card = $('#activate-card').value.trim().toUpperCase();
  const validUntil = $('#activate-valid-until').value.trim();
  delete out.dataset.refused;
  try {
    const r = await api('POST', '/api/cards/' + encodeURIComponent(card) + '/activate', {
      holder_present: $('#activate-present').checked,
      id_checked: $('#activate-idchecked').checked,
      id_valid_until: validUntil || undefined,
    });
    out.className = 'ok-text';
    out.textContent = '✓ ' + t('activate.done') + card + ' · ' + r.bank + ' · ' + t('activate.reference') + ' ' + r.reference + ' · ' + t('activate.account') + ' ' + r.account;
  } catch (e) {
    const refused = e.status === 422 && e.message.includes('the bank refused');
    out.className = 'error';
    if (refused) out.dataset.refused = '1';
    // A refusal shows the bank's own words (after "the bank refused (code): ").
    out.textContent = refused ? t('activate.refused') + e.message.replace(/^.*?the bank refused \([^)]*\): /, '') : t('failed') + e.message;
  }
}

// ---------------------------------------------------------------- supervisor screens
const fmtTime = (unix) => (unix ? new Date(unix * 1000).toLocaleString(lang === 'en' ? 'en-GB' : 'zh-CN') : '');

function row(cells) {
  const tr = document.createElement('tr');
  cells.forEach((c) => { const td = document.createElement('td'); if (c instanceof Node) td.append(c); else td.textContent = c === null || c === undefined ? '' : String(c); tr.append(td); });
  return tr;
}

async function loadCards() {
  const tbody = $('#cards-table tbody');
  tbody.textContent = '';
  try {
    const status = $('#cards-status').value;
    const r = await api('GET', '/api/cards' + (status ? '?status=' + status : ''));
    // A card in stock names its storage place and the person responsible.
    const where = (c) => (c.storage ? ' · ' + c.storage.place + '（' + c.storage.keeper + '）' : '');
    r.cards.forEach((c) => tbody.append(row([c.card_number, c.name, c.holder, t('status.' + c.status) + where(c), fmtTime(c.updated_at)])));
    $('#cards-count').textContent = r.cards.length + ' ' + t('cards.count');
  } catch (e) {
    $('#cards-count').textContent = t('failed') + e.message;
  }
}

async function loadDormant() {
  const tbody = $('#dormant-table tbody');
  tbody.textContent = '';
  const out = $('#dormant-result');
  try {
    const r = await api('GET', '/api/cards/dormant?days=' + encodeURIComponent($('#dormant-days').value || '0'));
    r.cards.forEach((c) => {
      const actions = document.createElement('span');
      const fail = document.createElement('button');
      fail.type = 'button'; fail.textContent = t('dormant.fail');
      fail.onclick = async () => {
        const reason = window.prompt(t('dormant.reason_prompt'));
        if (!reason) return;
        try { await api('POST', '/api/cards/' + c.card_number + '/handover', { delivered: false, reason }); loadDormant(); } catch (e) { out.textContent = t('failed') + e.message; }
      };
      const recall = document.createElement('button');
      recall.type = 'button'; recall.textContent = t('dormant.recall'); recall.dataset.recall = c.card_number;
      recall.onclick = async () => {
        try { await api('POST', '/api/cards/' + c.card_number + '/recall'); out.textContent = t('dormant.recalled') + c.card_number; loadDormant(); } catch (e) { out.textContent = t('failed') + e.message; }
      };
      // Only a card still in stock can fail a hand-over or be recalled (RULE 6).
      if (c.status === 'made') actions.append(fail, ' ', recall); else actions.textContent = '—';
      actions.append(' ', refusalButton(c, out));
      tbody.append(row([c.card_number, t('status.' + c.status), (c.failed_handovers || []).join('；'), actions]));
    });
  } catch (e) {
    out.textContent = t('failed') + e.message;
  }
}

// A person's refusal (RULE 8) of a dormant card: of the card change for a card in stock, of the
// activation for one handed over. Recorded as the person's own choice; the list stops chasing it.
function refusalButton(c, out) {
  const b = document.createElement('button');
  b.type = 'button'; b.textContent = t('refusal.button'); b.dataset.refusal = c.card_number;
  b.onclick = async () => {
    const note = window.prompt(t('refusal.prompt'));
    if (note === null) return;
    const what = c.status === 'made' ? 'card-change' : 'activation';
    try {
      await api('POST', '/api/cards/' + c.card_number + '/refusal', { what, chosen_by: 'person', note });
      out.textContent = t('refusal.recorded') + c.card_number;
      loadDormant();
    } catch (e) { out.textContent = t('failed') + e.message; }
  };
  return b;
}

// Agent sites: applications whose card is not at the site within 15 working days.
async function loadSites() {
  const tbody = $('#sites-table tbody');
  tbody.textContent = '';
  const out = $('#sites-result');
  out.textContent = '';
  try {
    const on = $('#sites-on').value;
    const r = await api('GET', '/api/sites/overdue' + (on ? '?on=' + encodeURIComponent(on) : ''));
    const notes = [];
    r.sites.forEach((s) => {
      s.overdue.forEach((o) => tbody.append(row([s.name + ' (' + s.site + ')', o.application_id + ' ' + o.holder, o.card_number || '—', o.applied, o.deadline, o.working_days_late])));
      s.not_judged.forEach((n) => notes.push(t('sites.not_judged') + s.site + ' #' + n.application_id + ': ' + n.reason));
    });
    out.textContent = notes.length ? notes.join(' ') : (tbody.children.length ? '' : t('sites.none'));
  } catch (e) {
    out.textContent = t('failed') + e.message;
  }
}

// Statistics for the bureau: the ledger's counts per day, operator and site, and per site now.
async function loadStats() {
  const sitesBody = $('#stats-sites tbody');
  const tbody = $('#stats-table tbody');
  sitesBody.textContent = '';
  tbody.textContent = '';
  const out = $('#stats-result');
  out.textContent = '';
  const q = new URLSearchParams();
  if ($('#stats-from').value) q.set('from', $('#stats-from').value);
  if ($('#stats-to').value) q.set('to', $('#stats-to').value);
  try {
    const r = await api('GET', '/api/stats?' + q.toString());
    const site = (id) => (id ? id : t('stats.station'));
    r.sites.forEach((s) => sitesBody.append(row([s.site ? s.name + ' (' + s.site + ')' : site(''), s.in_stock, s.dormant, s.overdue])));
    const x = r.totals;
    sitesBody.append(row([t('stats.total'), x.in_stock, x.dormant, x.overdue]));
    r.rows.forEach((w) => tbody.append(row([w.day, w.operator, site(w.site), w.made, w.received, w.issued, w.stocked, w.activated, w.spoiled])));
    tbody.append(row([t('stats.total'), '', '', x.made, x.received, x.issued, x.stocked, x.activated, x.spoiled]));
  } catch (e) {
    out.textContent = t('failed') + e.message;
  }
}

// Pickup SMS: failed or retrying messages, a stopped gateway, holders without a phone.
async function loadSms() {
  const tbody = $('#sms-table tbody');
  tbody.textContent = '';
  const out = $('#sms-result');
  out.textContent = '';
  try {
    const r = await api('GET', '/api/sms/notices');
    $('#sms-stopped').textContent = r.stopped || '';
    r.messages.forEach((m) => {
      const tr = row([m.key, m.to, TEXT['sms.' + m.state] ? t('sms.' + m.state) : m.state, m.reason]);
      tr.dataset.state = m.state;
      tbody.append(tr);
    });
    r.no_phone.forEach((c) => tbody.append(row([c.card_number + ' · ' + c.site, c.holder, t('sms.no_phone'), c.reason])));
    out.textContent = (tbody.children.length ? '' : t('sms.none') + ' ') + t('sms.sent') + r.sent;
  } catch (e) {
    out.textContent = t('failed') + e.message;
  }
}

// ---------------------------------------------------------------- cards made elsewhere, moves
// The card centre's delivery list, as chosen here, goes to the station whole (base64); each
// card taken in and each refused row comes back with its reason and what to do.
function fileAsBase64(file) {
  return new Promise((ok, bad) => {
    const r = new FileReader();
    r.onload = () => ok(String(r.result).slice(String(r.result).indexOf(',') + 1));
    r.onerror = () => bad(r.error);
    r.readAsDataURL(file);
  });
}

async function receiveList() {
  const out = $('#receive-result');
  const tbody = $('#receive-table tbody');
  delete out.dataset.done;
  const file = $('#receive-file').files[0];
  if (!file) { out.className = 'error'; out.textContent = t('receive.no_file'); $('#receive-file').focus(); return; }
  tbody.textContent = '';
  out.className = '';
  out.textContent = '';
  try {
    const body = { file_name: file.name, content: await fileAsBase64(file) };
    const place = $('#receive-place').value.trim();
    const keeper = $('#receive-keeper').value.trim();
    if (place) body.place = place;
    if (keeper) body.keeper = keeper;
    const r = await api('POST', '/api/stock/receive', body);
    const rows = r.received.map((c) => {
      const tr = row([c.row, c.card_number, c.name + ' ' + c.holder, '✓ ' + t('receive.in'), c.place + '（' + c.keeper + '）']);
      tr.dataset.received = c.card_number;
      return [c.row, tr];
    }).concat(r.refused.map((p) => {
      const tr = row([p.row || '', p.card_number, '', '✗ ' + t('receive.refused'), p.reason + ' → ' + p.action]);
      tr.className = 'refused';
      tr.dataset.refused = p.row;
      return [p.row, tr];
    }));
    rows.sort((a, b) => a[0] - b[0]).forEach(([, tr]) => tbody.append(tr));
    out.className = r.refused.length ? 'error' : 'ok-text';
    out.textContent = r.received.length + t('receive.summary') + r.refused.length;
    out.dataset.done = '1';
    $('#receive-file').value = '';
  } catch (e) {
    out.className = 'error';
    out.textContent = t('failed') + e.message;
    out.dataset.done = '1';
  }
}

async function moveCards() {
  const out = $('#move-result');
  const tbody = $('#move-table tbody');
  delete out.dataset.done;
  tbody.textContent = '';
  out.className = '';
  out.textContent = '';
  const cards = $('#move-cards').value.toUpperCase().split(/[\s,，;；]+/).filter((c) => c);
  const body = { cards, giver: $('#move-giver').value.trim(), receiver: $('#move-receiver').value.trim() };
  const site = $('#move-site').value;
  const place = $('#move-place').value.trim();
  if (site) body.to_site = site;
  if (place) body.to_place = place;
  try {
    const r = await api('POST', '/api/stock/move', body);
    r.moved.forEach((m) => {
      const at = siteList.find((x) => x.id === m.site);
      const where = m.place + (at ? ' · ' + at.name + ' (' + at.id + ')' : '') + '（' + m.keeper + '）';
      const tr = row([m.card_number, '✓ ' + t('move.moved'), where, m.sms || '']);
      tr.dataset.moved = m.card_number;
      tbody.append(tr);
    });
    r.refused.forEach((m) => {
      const tr = row([m.card_number, '✗ ' + t('move.refused'), '', m.reason]);
      tr.className = 'refused';
      tr.dataset.refused = m.card_number;
      tbody.append(tr);
    });
    out.className = r.refused.length ? 'error' : 'ok-text';
    out.textContent = r.moved.length + t('move.summary') + r.refused.length;
  } catch (e) {
    out.className = 'error';
    out.textContent = t('failed') + e.message;
  }
  out.dataset.done = '1';
}

// A supervisor records a custody approval; the daemon masks the custodian's ID number and
// records the approval at the province before the station's ledger.
async function recordCustody() {
  const out = $('#custody-result');
  delete out.dataset.done;
  out.className = '';
  out.textContent = '';
  const idField = $('#custody-id');
  const body = {
    handed_over_by: $('#custody-by').value.trim(),
    holder_group: $('#custody-group').value,
    custodian: $('#custody-name').value.trim(),
    custodian_id: idField.value.trim().toUpperCase(),
    reason: $('#custody-reason').value.trim(),
    valid_until: $('#custody-until').value.replaceAll('-', ''),
  };
  const card = $('#custody-card').value.trim().toUpperCase();
  try {
    const r = await api('POST', '/api/cards/' + encodeURIComponent(card) + '/custody', body);
    idField.value = '';
    out.className = 'ok-text';
    out.textContent = t('custody.done') + r.province_approval + '（' + card + '，' + r.valid_until + '）';
  } catch (e) {
    out.className = 'error';
    out.textContent = t('failed') + e.message;
  }
  out.dataset.done = '1';
}

// Losses and fees at the counter (#24 item 4). The holder's ID number goes in the body only
// and leaves the form after each act; the answers never carry it.
async function lossAct(what) {
  const out = $('#losses-result');
  delete out.dataset.done;
  out.className = '';
  out.textContent = '';
  const card = $('#losses-card').value.trim().toUpperCase();
  const idField = $('#losses-id');
  const id = idField.value.trim().toUpperCase();
  const checked = $('#losses-idchecked').checked;
  const path = '/api/cards/' + encodeURIComponent(card);
  try {
    let text;
    if (what === 'temporary') {
      const r = await api('POST', path + '/temporary-loss', { id_number: id, channel: $('#losses-channel').value, id_checked: checked });
      text = t('losses.suspended') + new Date(r.until * 1000).toLocaleString('zh-CN');
    } else if (what === 'lift') {
      await api('POST', path + '/lift-loss', { id_number: id, id_checked: checked });
      text = t('losses.lifted');
    } else if (what === 'formal') {
      await api('POST', path + '/loss', { holder_at_counter: checked });
      text = t('losses.stopped');
    } else {
      const r = await api('POST', path + '/replacement-fee', {});
      const waiver = r.fee.waiver === 'first-replacement' ? t('losses.first') : t('losses.free') + (r.fee.category || '');
      const fee = r.fen > 0 ? t('losses.due') + (r.fen / 100).toFixed(2) + ' 元' : t('losses.waived') + waiver;
      text = fee + '，' + t('losses.receipt') + r.receipt;
    }
    out.className = 'ok-text';
    out.textContent = text;
  } catch (e) {
    out.className = 'error';
    out.textContent = t('failed') + e.message;
  }
  idField.value = '';
  out.dataset.done = '1';
}

async function loadSchedule() {
  try {
    const c = await api('GET', '/api/card-services');
    $('#losses-schedule').textContent = t('losses.schedule').replace('{fee}', (c.replacement_fen / 100).toFixed(2)).replace('{days}', c.temporary_loss_days);
  } catch (e) {
    $('#losses-schedule').textContent = '';
  }
}

// The jobs that wait for a person, found again after leaving the page (#24).
async function loadWaiting() {
  const tbody = $('#waiting-table tbody');
  tbody.textContent = '';
  let jobs = [];
  try { jobs = (await api('GET', '/api/jobs/waiting')).jobs; } catch (e) { jobs = []; }
  if (!jobs.length) {
    const tr = row([t('waiting.none'), '', '', '', '', '']);
    tbody.append(tr);
  }
  jobs.forEach((j) => {
    const open = document.createElement('button');
    open.type = 'button';
    open.textContent = t('waiting.open');
    open.onclick = () => openJob(j.job, j.status, j.name);
    const tr = row([String(j.job), j.name, j.holder, t('waiting.' + j.status), j.since_local, '']);
    tr.dataset.job = j.job;
    tr.lastChild.append(open);
    tbody.append(tr);
  });
  tbody.dataset.loaded = '1';
}

/** Shows a job that waits for a person, as its own follow would: the held or correcting view. */
async function openJob(id, status, name) {
  const view = await api('GET', '/api/jobs/' + id);
  job = { request: null, id, active: false, applicant: { holder: { name } }, reissue: view.held ? view.held.old_card : null,
    collection: 'at-counter', result: { status, detail: '' }, began: Date.now(), steps: {} };
  STEPS.forEach(([n]) => { job.steps[n] = { state: 'pending' }; });
  (view.journal || []).forEach((l) => {
    if (!job.steps[l.step]) return;
    if (l.phase === 'done') job.steps[l.step].state = 'done';
    if (['failed', 'held'].includes(l.phase)) job.steps[l.step].state = 'failed';
    if (l.phase === 'mismatch') job.steps[l.step].state = 'correcting';
  });
  $('#progress-who').textContent = name || '';
  renderSteps();
  renderResult();
}

async function loadLedger() {
  const tbody = $('#ledger-table tbody');
  tbody.textContent = '';
  try {
    const r = await api('GET', '/api/ledger');
    r.entries.slice().reverse().slice(0, 200).forEach((e) => {
      const event = lang === 'en' || !EVENTS_ZH[e.event] ? e.event : EVENTS_ZH[e.event] + ' (' + e.event + ')';
      tbody.append(row([e.seq, fmtTime(e.at), e.operator, event, e.card_number]));
    });
  } catch (e) {
    $('#ledger-status').textContent = t('failed') + e.message;
  }
}

async function verifyLedger() {
  try {
    const r = await api('GET', '/api/ledger/verify');
    $('#ledger-status').textContent = r.intact ? '✓ ' + t('ledger.intact') + r.entries : '✗ ' + t('ledger.broken') + r.error;
  } catch (e) {
    $('#ledger-status').textContent = t('failed') + e.message;
  }
}


// ---------------------------------------------------------------- wiring
function init() {
  $('#login-form').addEventListener('submit', login);
  $('#password-form').addEventListener('submit', changePassword);
  $('#logout').onclick = logout;
  $('#lang-toggle').onclick = () => { lang = lang === 'en' ? 'zh' : 'en'; localStorage.setItem('lang', lang); applyLanguage(); };
  $$('#nav [data-nav]').forEach((b) => { b.onclick = () => show(b.dataset.nav); });
  form().addEventListener('input', onFormInput);
  form().addEventListener('change', onFormInput);
  form().addEventListener('submit', submitApplication);
  $('#apply-reset').onclick = resetForm;
  $('#capture').onclick = capturePhoto;
  $('#photo-file').onchange = uploadPhoto;
  document.addEventListener('keydown', (ev) => {
    if (ev.altKey && (ev.key === 'c' || ev.key === 'C') && !$('#screen-apply').hidden) { ev.preventDefault(); capturePhoto(); }
  });
  $('#retry-button').onclick = () => startJob(job.applicant, job.reissue, job.site);
  $('#back-to-form').onclick = () => show('apply');
  // The form opens in its own tab (the session's cookie goes with it) to print and sign.
  $('#print-form').onclick = () => { if (job && job.id) window.open('/api/jobs/' + job.id + '/form', '_blank'); };
  const toHandover = () => {
    $('#handover-card').value = job.result.detail;
    // A minor's card goes to the guardian, a custodian with the approval for the holder.
    const guardian = job.applicant.guardian && job.applicant.guardian.name;
    $('#handover-signer').value = guardian || job.applicant.holder.name || '';
    $('#handover-kind').value = guardian ? 'custodian' : 'holder';
    $('#handover-id-number').value = '';
    $('#handover-result').textContent = '';
    clearSignature();
    show('handover');
  };
  // The operator checks the receiver's ID document and types its number, then they sign.
  $('#to-handover').onclick = () => { toHandover(); $('#handover-stock').open = false; $('#handover-id-number').focus(); };
  $('#to-stock').onclick = () => { toHandover(); $('#handover-stock').open = true; $('#handover-stock-reason').focus(); };
  setupSignature();
  $('#handover-form').addEventListener('submit', recordHandover);
  $('#handover-failed-submit').onclick = recordFailedHandover;
  $('#handover-stock-submit').onclick = recordStock;
  $('#activate-form').addEventListener('submit', activate);
  $('#cards-load').onclick = loadCards;
  $('#cards-status').onchange = loadCards;
  $('#dormant-load').onclick = loadDormant;
  $('#stats-load').onclick = loadStats;
  $('#sites-load').onclick = loadSites;
  $('#sms-load').onclick = loadSms;
  $('#f-site').addEventListener('change', siteChosen);
  $('#receive-submit').onclick = receiveList;
  $('#move-submit').onclick = moveCards;
  $('#custody-submit').onclick = recordCustody;
  $('#waiting-load').onclick = loadWaiting;
  $('#losses-temporary').onclick = () => lossAct('temporary');
  $('#losses-lift').onclick = () => lossAct('lift');
  $('#losses-formal').onclick = () => lossAct('formal');
  $('#losses-fee').onclick = () => lossAct('fee');
  $('#losses-form').addEventListener('submit', (ev) => ev.preventDefault());
  $('#ledger-load').onclick = loadLedger;
  $('#ledger-verify').onclick = verifyLedger;
  applyLanguage();
  show('login');
  // A reload keeps the session its cookie still holds.
  api('GET', '/api/me').then(enter).catch(() => {});
}

// ---------------------------------------------------------------- a held re-issue (#24)
// A re-issue whose new card failed after the old card was stopped: where the holder stands (the
// old card stopped at the province for this re-issue, the new card not made, the claim this
// station's until when) and, for a supervisor, the two ways on: restore the old card, or
// resume the new card with the same claim and card number.
async function renderHeld(box, way) {
  const id = job.id;
  const head = document.createElement('p');
  head.className = 'bad';
  head.textContent = '✗ ' + pick(['补换卡暂停：旧卡已停用，新卡未制成', 'Re-issue held: the old card is stopped, the new card not made']);
  box.append(head);
  let held;
  try { held = (await api('GET', '/api/jobs/' + id)).held; } catch (e) { held = null; }
  if (!held) { const d = document.createElement('p'); d.className = 'detail'; d.textContent = job.result.detail; box.append(d); return; }
  const facts = document.createElement('ul');
  facts.id = 'held-facts';
  const fact = (zhEn) => { const li = document.createElement('li'); li.textContent = pick(zhEn); facts.append(li); };
  fact(['旧卡 ' + held.old_card + ' 已在省级档案为本次补换卡停用', 'Old card ' + held.old_card + ' is stopped at the province for this re-issue']);
  fact(['新卡 ' + held.new_card + ' 未制成（' + held.failed_step + '）：' + held.reason, 'New card ' + held.new_card + ' was not made (' + held.failed_step + '): ' + held.reason]);
  fact(['本站 ' + held.claim_held_by + ' 保留申领至 ' + held.held_until_local, 'Station ' + held.claim_held_by + ' holds the claim until ' + held.held_until_local]);
  if (held.claim_lapsed) fact(['申领已过期：旧卡无法恢复；继续将结束此任务，请重新申请', 'The claim lapsed: the old card cannot be restored; resuming ends the job; apply again']);
  box.append(facts);
  way.hidden = false;
  const title = document.createElement('strong');
  title.textContent = t('progress.way_out');
  way.append(title);
  if (session.role !== 'supervisor') {
    const p = document.createElement('p');
    p.textContent = pick(['请主管决定：恢复旧卡，或继续制作新卡。', 'A supervisor decides: restore the old card, or resume the new card.']);
    way.append(p);
    return;
  }
  const reason = document.createElement('input');
  reason.id = 'held-reason';
  reason.placeholder = pick(['恢复旧卡的原因', 'why the old card is restored']);
  const restore = document.createElement('button');
  restore.id = 'held-restore';
  restore.type = 'button';
  restore.textContent = pick(['恢复旧卡 ', 'Restore old card ']) + held.old_card;
  const resume = document.createElement('button');
  resume.id = 'held-resume';
  resume.type = 'button';
  resume.className = 'primary';
  resume.textContent = pick(['继续制作新卡 ', 'Resume new card ']) + held.new_card;
  const said = document.createElement('p');
  said.id = 'held-answer';
  way.append(reason, ' ', restore, ' ', resume, said);
  restore.onclick = () => restoreHeld(id, reason.value, said);
  resume.onclick = () => resumeHeld(id, said);
}

async function restoreHeld(id, reason, said) {
  try {
    const r = await api('POST', '/api/jobs/' + id + '/restore', { reason });
    said.textContent = pick(['旧卡 ' + r.card_number + ' 已恢复可用（省级档案与本站）', 'Card ' + r.card_number + ' is live again at the province and here']);
    $('#held-restore').hidden = true; $('#held-resume').hidden = true;
  } catch (e) {
    said.textContent = e.message;
  }
}

async function resumeHeld(id, said) {
  try {
    const r = await api('POST', '/api/jobs/' + id + '/resume-reissue', {});
    said.textContent = pick(['继续制作新卡 ', 'Making new card ']) + r.card_number + ' …';
    $('#held-restore').hidden = true; $('#held-resume').hidden = true;
    for (;;) {
      await new Promise((done) => setTimeout(done, 500));
      const v = await api('GET', '/api/jobs/' + id);
      if (v.status === 'running') continue;
      if (v.status === 'awaiting-handover' || v.status === 'done') {
        job.result = { status: v.status === 'done' ? 'stocked' : 'awaiting-handover', detail: ' ' + v.card_number };
        renderResult(true);
      } else {
        said.textContent = (v.held && v.held.summary) || v.status;
      }
      return;
    }
  } catch (e) {
    said.textContent = e.message;
  }
}

// ---------------------------------------------------------------- identity correction (#24)
// The bank-police register did not confirm the applicant: the job waits at its verification.
// The fields it named, each with the register's hint; a small form to correct them (the job
// verifies again), up to the station's number of corrections; or end the application.
const MISMATCH_FIELDS = {
  name: ['姓名', 'Name'],
  id_number: ['公民身份号码', 'ID number'],
  valid_until: ['证件有效期', 'Document validity'],
  id_validity: ['证件有效期', 'Document validity'],
};

async function renderCorrecting(box, way) {
  const id = job.id;
  const head = document.createElement('p');
  head.className = 'bad';
  head.textContent = '✗ ' + pick(['身份核查未通过：请与申请人核对证件后更正', 'Identity not confirmed: check the document with the applicant and correct']);
  box.append(head);
  let m;
  try { m = (await api('GET', '/api/jobs/' + id)).mismatch; } catch (e) { m = null; }
  if (!m) { const d = document.createElement('p'); d.className = 'detail'; d.textContent = job.result.detail; box.append(d); return; }
  const facts = document.createElement('ul');
  facts.id = 'mismatch-fields';
  m.fields.forEach((f) => {
    const li = document.createElement('li');
    li.dataset.field = f.field;
    const label = document.createElement('strong');
    label.textContent = pick(MISMATCH_FIELDS[f.field] || [f.field, f.field]) + '：';
    li.append(label, f.hint);
    facts.append(li);
  });
  box.append(facts);
  const count = document.createElement('p');
  count.id = 'mismatch-count';
  count.textContent = pick(['已更正 ' + m.corrections + ' 次，还可更正 ' + m.left + ' 次；之后申请结束。', m.corrections + ' correction(s) made, ' + m.left + ' left; then the application ends.']);
  box.append(count);
  way.hidden = false;
  const title = document.createElement('strong');
  title.textContent = t('progress.way_out');
  way.append(title);
  const form = document.createElement('form');
  form.id = 'correct-form';
  const named = new Set(m.fields.map((f) => (f.field === 'valid_until' ? 'id_validity' : f.field)));
  if (![...named].some((f) => ['name', 'id_number', 'id_validity'].includes(f))) { named.add('name'); named.add('id_number'); }
  const field = (key, inputId, value, placeholder) => {
    const label = document.createElement('label');
    label.textContent = pick(MISMATCH_FIELDS[key]) + ' ';
    const input = document.createElement('input');
    input.id = inputId;
    input.value = value || '';
    if (placeholder) input.placeholder = placeholder;
    label.append(input);
    form.append(label, ' ');
    return input;
  };
  const inputs = {};
  if (named.has('name')) inputs.name = field('name', 'correct-name', m.holder.name);
  // The whole number is typed again: the view shows it masked only.
  if (named.has('id_number')) inputs.id_number = field('id_number', 'correct-id-number', '', m.holder.id_number);
  if (named.has('id_validity')) {
    const v = m.holder.id_validity || {};
    inputs.from = field('id_validity', 'correct-valid-from', v.from, 'YYYY-MM-DD');
    inputs.to = field('id_validity', 'correct-valid-to', v.to, pick(['YYYY-MM-DD 或 长期', 'YYYY-MM-DD or 长期']));
  }
  const submit = document.createElement('button');
  submit.id = 'correct-submit';
  submit.className = 'primary';
  submit.textContent = pick(['提交更正并重新核查', 'Correct and verify again']);
  form.append(submit);
  const end = document.createElement('div');
  const reason = document.createElement('input');
  reason.id = 'correct-end-reason';
  reason.placeholder = pick(['结束申请的原因', 'why the application ends']);
  const endButton = document.createElement('button');
  endButton.id = 'correct-end';
  endButton.type = 'button';
  endButton.textContent = pick(['结束申请', 'End the application']);
  end.append(reason, ' ', endButton);
  const said = document.createElement('p');
  said.id = 'correct-answer';
  way.append(form, end, said);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const holder = {};
    if (inputs.name && inputs.name.value.trim() !== (m.holder.name || '')) holder.name = inputs.name.value.trim();
    if (inputs.id_number && inputs.id_number.value.trim()) {
      // The birth date and sex the number carries go with it (18 digits).
      const n = inputs.id_number.value.trim().toUpperCase();
      holder.id_number = n;
      if (/^[0-9]{17}[0-9X]$/.test(n)) {
        holder.birth_date = n.slice(6, 10) + '-' + n.slice(10, 12) + '-' + n.slice(12, 14);
        holder.sex = Number(n[16]) % 2 === 1 ? '1' : '2';
      }
    }
    if (inputs.from) holder.id_validity = { from: inputs.from.value.trim() || null, to: inputs.to.value.trim() || null };
    sendCorrection(id, { holder }, said);
  });
  endButton.onclick = () => sendCorrection(id, { end: reason.value.trim() }, said);
}

async function sendCorrection(id, body, said) {
  try {
    await api('POST', '/api/jobs/' + id + '/correct', body);
    said.textContent = pick(['已提交，正在重新核查…', 'Sent: verifying again…']);
    $('#correct-submit').disabled = true; $('#correct-end').disabled = true;
    job.steps['verify-identity'].state = 'running';
    renderSteps();
    for (;;) {
      await new Promise((done) => setTimeout(done, 300));
      const v = await api('GET', '/api/jobs/' + id);
      if (v.status === 'running') continue;
      v.journal.forEach((l) => { if (job.steps[l.step] && l.phase === 'done') job.steps[l.step].state = 'done'; });
      const made = { 'awaiting-handover': 'awaiting-handover', done: 'stocked' }[v.status];
      if (made) {
        job.result = { status: made, detail: ' ' + v.card_number };
        if (made === 'awaiting-handover') job.steps['hand-over'].state = 'waiting';
      } else if (v.status === 'correcting') {
        job.steps['verify-identity'].state = 'correcting';
        job.result = { status: 'correcting', detail: v.mismatch ? v.mismatch.summary : '' };
      } else if (v.status === 'held') {
        job.result = { status: 'held', detail: v.held ? v.held.summary : '' };
      } else {
        job.steps['verify-identity'].state = 'failed';
        job.result = { status: v.status === 'failed' ? 'refused' : 'rolled-back', detail: v.ended || v.status };
      }
      renderSteps();
      renderResult(true);
      return;
    }
  } catch (e) {
    said.textContent = e.message;
  }
}

init();
