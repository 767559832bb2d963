//! Message bodies per webhook format.
//!
//! WeCom group robot: `{"msgtype": "markdown", "markdown": {"content": "..."}}`.
//! DingTalk group robot: `{"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}}`.
//! Generic JSON: `{"alerts": [AlertView...], "suppressed": K}`.

use hall_protocol::api::AlertView;
use hall_protocol::config::NotifyFormat;
use hall_protocol::payload::Severity;
use serde_json::{Value, json};

fn severity_zh(s: Severity) -> &'static str {
    match s {
        Severity::Info => "提示",
        Severity::Warning => "警告",
        Severity::Critical => "严重",
    }
}

fn markdown(a: &AlertView) -> String {
    format!(
        "**【{}】{}**\n> 规则：{}（{}）\n> 对象：{}\n> 时间：{}",
        severity_zh(a.severity),
        a.message,
        a.rule,
        a.kind,
        a.subject,
        a.raised_at.to_rfc3339()
    )
}

/// The text of the message that stands for `n` alerts held back by the rate limit.
pub fn summary_text(n: u64) -> String {
    format!("另有 {n} 条告警因发送频率限制未单独推送，请登录值班台查看。")
}

/// The body for one alert, or for a summary of `suppressed` held-back alerts when `alert` is `None`.
pub fn encode(format: NotifyFormat, alert: Option<&AlertView>, suppressed: u64) -> Value {
    let (title, text) = match alert {
        Some(a) => (format!("{} {}", a.rule, a.message), markdown(a)),
        None => ("告警汇总".to_owned(), summary_text(suppressed)),
    };
    match format {
        NotifyFormat::Wecom => json!({"msgtype": "markdown", "markdown": {"content": text}}),
        NotifyFormat::Dingtalk => {
            json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}})
        }
        NotifyFormat::Json => match alert {
            Some(a) => json!({"alerts": [a], "suppressed": 0}),
            None => json!({"alerts": [], "suppressed": suppressed, "summary": text}),
        },
    }
}
