//! The printable application form of a job (福建省社会保障卡申领表): `GET /api/jobs/{id}/form`
//! gives the form the job was taken on as one HTML page to print (A4, `/form.css`), with the
//! signature block the applicant (or the guardian) signs on paper, the date and the operator.
//! It is the paper the applicant signs, so it shows the whole ID number: it is seen by the
//! operator who took the job and by supervisors, as the printed face, and its URL carries the
//! job's number only; each one given out is a `form.printed` line in the ledger. Every value is
//! HTML-escaped.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::{ApiError, AppState, Authed};

/// The form's stylesheet (`/form.css`).
pub(crate) const STYLE: &str = include_str!("../ui/form.css");

/// The declaration (申明) the applicant accepts by signing.
pub const DECLARATION: &str =
    "本人承诺以上所填信息及所提供的证件、照片真实、完整、有效，并同意将上述信息用于社会保障卡的制作、\
     发放和金融账户的开立。如有不实，本人愿承担由此产生的一切责任。";

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/jobs/{id}/form", get(printable)).route(
        "/form.css",
        get(|| async {
            ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], STYLE)
        }),
    )
}

/// What the form shows beside the applicant: when and by whom it was taken.
pub struct Taken<'a> {
    /// The station.
    pub station: &'a str,
    /// The job.
    pub job: i64,
    /// The day it was taken (CST).
    pub day: Option<applicant::Date>,
    /// The operator who took it.
    pub operator: &'a str,
    /// The card a re-issue replaces, if it is one.
    pub reissue: bool,
}

async fn printable(
    State(s): State<AppState>,
    Authed(session): Authed,
    Path(job): Path<i64>,
) -> Result<Response, ApiError> {
    let local = s.local().clone();
    let form = tokio::task::spawn_blocking(move || local.job_form(job))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    // Who may not see the form is not told whether the job exists.
    let asked_by = form.as_ref().and_then(|f| f.operator.as_deref());
    crate::ui_api::own_job_or_supervisor(&s, &session, job, asked_by, "an application form")?;
    let form = form.ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no job {job}")))?;
    let applicant: applicant::Applicant = serde_json::from_str(&form.data).map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("job {job}'s stored form does not read ({e}): keep the database for the maintainers"),
        )
    })?;
    let taken = Taken {
        station: &s.inner.station,
        job,
        day: applicant::days::date(applicant::days::day_of_unix(form.taken_at)),
        // Left blank for the operator to sign when the station does not know who took the job.
        operator: form.operator.as_deref().unwrap_or_default(),
        reissue: form.kind != "new",
    };
    let html = render(&applicant, &taken);
    // The form shows a whole ID number: who printed which job's is in the ledger.
    s.audit(&session.operator, "form.printed", serde_json::json!({"job": job}));
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html)
        .into_response())
}

/// Text made safe for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn text(v: &Option<String>) -> String {
    escape(v.as_deref().map(str::trim).unwrap_or_default())
}

fn tick(on: bool) -> &'static str {
    if on {
        "☑"
    } else {
        "☐"
    }
}

/// The form as one HTML page.
pub fn render(a: &applicant::Applicant, taken: &Taken) -> String {
    let h = &a.holder;
    let sex = match h.sex.as_deref().map(str::trim) {
        Some("1") => "男".to_string(),
        Some("2") => "女".to_string(),
        _ => text(&h.sex),
    };
    let ethnicity = h
        .ethnicity
        .as_deref()
        .and_then(|e| applicant::Ethnicity::parse(e.trim()).ok())
        .map_or_else(|| text(&h.ethnicity), |e| e.name().to_string());
    let id_type = h
        .id_type
        .as_deref()
        .and_then(|t| applicant::IdType::from_key(t.trim()))
        .map_or_else(|| text(&h.id_type), |t| t.chinese_name().to_string());
    let validity =
        h.id_validity.as_ref().map(|v| format!("{} 至 {}", text(&v.from), text(&v.to))).unwrap_or_default();
    let nationality = match h.nationality.as_deref().map(str::trim) {
        None | Some("" | "CHN") => "中国".to_string(),
        Some(other) => escape(other),
    };
    let photo = a
        .photo
        .as_deref()
        .and_then(applicant::photo_name)
        .map(|name| format!(r#"<img src="/api/photos/{}" alt="照片">"#, escape(name)))
        .unwrap_or_else(|| "（贴照片处）<br>1寸近期正面免冠彩色照片".into());
    let insurance = a.insurance.clone().unwrap_or_default();
    let chosen = insurance.category.as_deref().and_then(|c| applicant::InsuranceCategory::parse(c).ok());
    let categories: String = applicant::InsuranceCategory::all()
        .iter()
        .map(|c| format!(r#"<span class="box">{} {}</span>"#, tick(Some(*c) == chosen), escape(c.name())))
        .collect();
    let bank = a.bank.as_deref().map(str::trim).filter(|b| !b.is_empty()).map_or_else(String::new, |code| {
        escape(&bank::Registry::builtin().bank(code).map_or(code.to_string(), |b| b.name.clone()))
    });
    let g = a.guardian.clone().unwrap_or_default();
    let g_type = g
        .id_type
        .as_deref()
        .and_then(|t| applicant::IdType::from_key(t.trim()))
        .map_or_else(|| text(&g.id_type), |t| t.chinese_name().to_string());
    let previous = match &a.previous_card {
        None => format!(
            r#"<span class="box">{} 是</span><span class="box">{} 否</span>"#,
            tick(true),
            tick(false)
        ),
        Some(p) => format!(
            r#"<span class="box">{} 是</span><br>{} 否，本人在福建省 <u>{}</u> 市已持有社保卡，卡号为 <u>{}</u>。<br>{} 本人现同意停用该社保卡。"#,
            tick(false),
            tick(true),
            text(&p.city),
            text(&p.card_number),
            tick(p.consent_to_stop)
        ),
    };
    let day = taken.day.map_or_else(
        || "&nbsp;&nbsp;&nbsp;&nbsp;年&nbsp;&nbsp;&nbsp;月&nbsp;&nbsp;&nbsp;日".to_string(),
        |d| format!("{} 年 {} 月 {} 日", d.year(), d.month(), d.day()),
    );
    let remarks = if taken.reissue { "补换卡" } else { "" };
    let employer = a.employer.clone().unwrap_or_default();
    format!(
        r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>福建省社会保障卡申领表 · 业务 {job}</title>
<link rel="stylesheet" href="/form.css">
</head>
<body>
<p class="screen-only">打印本页（Ctrl+P），请申请人核对并签字。</p>
<h1>福建省社会保障卡申领表</h1>
<div class="meta"><span>申领日期：{day}</span><span>网点 {station} · 业务编号 {job}</span></div>
<table class="form">
<tr><th>姓名</th><td data-field="holder.name">{name}</td><th>性别</th><td data-field="holder.sex">{sex}</td><td class="photo" rowspan="4">{photo}</td></tr>
<tr><th>民族</th><td data-field="holder.ethnicity">{ethnicity}</td><th>出生日期</th><td data-field="holder.birth_date">{birth}</td></tr>
<tr><th>职业（工种）</th><td data-field="holder.occupation">{occupation}</td><th>国家/地区</th><td data-field="holder.nationality">{nationality}</td></tr>
<tr><th>固定电话</th><td data-field="contact.phone">{phone}</td><th>手机号码</th><td data-field="contact.mobile">{mobile}</td></tr>
<tr><th>有效身份证件类型</th><td data-field="holder.id_type">{id_type}</td><th>证件有效期</th><td colspan="2" data-field="holder.id_validity">{validity}</td></tr>
<tr><th>证件号码</th><td colspan="4" data-field="holder.id_number">{id_number}</td></tr>
<tr><th>户口所在地地址</th><td colspan="4" data-field="contact.household_address">{household}</td></tr>
<tr><th>常住地地址</th><td colspan="2" data-field="contact.address">{address}</td><th>常住地邮政编码</th><td data-field="contact.postcode">{postcode}</td></tr>
<tr><th>工作单位</th><td colspan="4" data-field="employer.name">{employer}</td></tr>
<tr><th>参加医疗保险或新农合的类型</th><td colspan="4" data-field="insurance.category">{categories}</td></tr>
<tr><th>所参加医疗保险或新农合的经办机构</th><td colspan="4" data-field="insurance.agency">{agency}</td></tr>
<tr><th>服务银行</th><td colspan="4" data-field="bank">{bank}</td></tr>
<tr><th rowspan="2">16周岁以下的申请人</th><th>监护人姓名</th><td data-field="guardian.name">{g_name}</td><th>监护人证件类型</th><td data-field="guardian.id_type">{g_type}</td></tr>
<tr><th>监护人证件号码</th><td data-field="guardian.id_number">{g_number}</td><th>与申请人关系</th><td data-field="guardian.relation">{g_relation}</td></tr>
<tr><th>在福建省是否首次申领社保卡</th><td colspan="4" data-field="previous_card">{previous}</td></tr>
<tr><th>申明</th><td colspan="4" class="declaration" data-field="declaration">{declaration}<br>{accepted} 申请人已阅读并同意以上申明</td></tr>
<tr><th>备注</th><td colspan="4">{remarks}</td></tr>
</table>
<div class="signatures" id="signatures">
<div>申请人（签字）：</div>
<div>监护人（签字）：</div>
<div>日期：&nbsp;&nbsp;&nbsp;&nbsp;年&nbsp;&nbsp;&nbsp;月&nbsp;&nbsp;&nbsp;日</div>
<div>经办人：{operator}</div>
</div>
<p class="note">说明：申请人须提供有效的身份证件复印件。</p>
</body>
</html>
"#,
        job = taken.job,
        station = escape(taken.station),
        name = text(&h.name),
        birth = text(&h.birth_date),
        occupation = text(&h.occupation),
        phone = text(&a.contact.phone),
        mobile = text(&a.contact.mobile),
        id_number = text(&h.id_number),
        household = text(&a.contact.household_address),
        address = text(&a.contact.address),
        postcode = text(&a.contact.postcode),
        employer = text(&employer.name),
        agency = text(&insurance.agency),
        g_name = text(&g.name),
        g_number = text(&g.id_number),
        g_relation = text(&g.relation),
        declaration = DECLARATION,
        accepted = tick(a.declaration),
        operator = escape(taken.operator),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> applicant::Applicant {
        let path = format!("{}/../applicant/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("testdata")).expect("json")
    }

    fn taken(operator: &str) -> Taken<'_> {
        Taken { station: "S1", job: 7, day: applicant::Date::new(2026, 12, 6).ok(), operator, reissue: true }
    }

    /// The text of the cell `data-field="FIELD"`.
    fn cell<'a>(html: &'a str, field: &str) -> &'a str {
        let start = html.find(&format!(r#"data-field="{field}">"#)).unwrap_or_else(|| panic!("no {field}"));
        let rest = &html[start..];
        let open = rest.find('>').expect("tag") + 1;
        &rest[open..rest.find("</td>").expect("cell")]
    }

    #[test]
    fn the_printed_form_has_every_field_and_the_signature_block() {
        let a = testdata("full_form.json");
        let html = render(&a, &taken("op-1"));
        assert_eq!(cell(&html, "holder.name"), "张三");
        assert_eq!(cell(&html, "holder.sex"), "女");
        assert_eq!(cell(&html, "holder.ethnicity"), "汉族");
        assert_eq!(cell(&html, "holder.id_type"), "居民身份证");
        assert_eq!(cell(&html, "holder.id_number"), "11010519491231002X", "the paper the applicant signs");
        assert_eq!(cell(&html, "contact.household_address"), "福建省泉州市鲤城区中山路2号");
        assert_eq!(cell(&html, "contact.address"), "福建省石狮市湖滨街道八七路1号");
        assert_eq!(cell(&html, "insurance.agency"), "石狮市医疗保险管理中心");
        assert_eq!(cell(&html, "bank"), "中国工商银行");
        let categories = cell(&html, "insurance.category");
        assert!(categories.contains("☑ 城乡居民基本医疗保险（特困人员）"), "{categories}");
        assert_eq!(categories.matches('☑').count(), 1, "one box ticked: {categories}");
        assert!(categories.contains("☐ 城镇职工基本医疗保险"), "{categories}");
        let previous = cell(&html, "previous_card");
        assert!(previous.contains("<u>泉州</u>") && previous.contains("<u>B00000027</u>"), "{previous}");
        assert!(previous.contains("☑ 本人现同意停用该社保卡"), "{previous}");
        assert!(cell(&html, "declaration").contains("☑ 申请人已阅读并同意以上申明"));
        let block = &html[html.find(r#"id="signatures""#).expect("signature block")..];
        for line in ["申请人（签字）", "监护人（签字）", "日期", "经办人：op-1"] {
            assert!(block.contains(line), "{line} in the signature block");
        }
        assert!(html.contains("申领日期：2026 年 12 月 6 日") && html.contains("补换卡"));
        assert!(
            html.contains(r#"href="/form.css""#) && !html.contains("<script") && !html.contains("<style")
        );
        assert!(STYLE.contains("@media print") && STYLE.contains("@page"));
    }

    #[test]
    fn every_value_is_escaped() {
        let mut a = testdata("full_form.json");
        a.holder.name = Some(r#"<script>alert("x")</script>"#.into());
        a.contact.household_address = Some("A & B <b>'q'</b>".into());
        a.insurance.as_mut().expect("insurance").agency = Some(r#""><img src=x onerror=alert(1)>"#.into());
        a.bank = Some("<X>".into());
        let html = render(&a, &taken("<op>"));
        assert!(
            !html.contains("<script>") && !html.contains("<img src=x") && !html.contains("<b>"),
            "{html}"
        );
        assert_eq!(cell(&html, "holder.name"), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
        assert_eq!(cell(&html, "contact.household_address"), "A &amp; B &lt;b&gt;&#39;q&#39;&lt;/b&gt;");
        assert_eq!(cell(&html, "bank"), "&lt;X&gt;");
        assert!(html.contains("经办人：&lt;op&gt;"));
    }

    #[test]
    fn a_first_application_without_the_new_fields_prints_blank_boxes() {
        let a = applicant::Applicant { insurance: None, declaration: false, ..testdata("minor.json") };
        let html = render(&a, &Taken { reissue: false, day: None, ..taken("op-1") });
        assert_eq!(cell(&html, "insurance.category").matches('☑').count(), 0, "no category chosen");
        assert!(cell(&html, "previous_card").starts_with("<span class=\"box\">☑ 是</span>"));
        assert!(cell(&html, "declaration").contains("☐ 申请人已阅读"));
        assert_eq!(cell(&html, "guardian.name"), "王丽");
        assert_eq!(cell(&html, "guardian.id_type"), "居民身份证");
    }
}
