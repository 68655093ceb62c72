//! The pages' style, inline so a page needs nothing else: close enough to github.com's light
//! theme that a person recognises a PR, with no fonts or images to fetch.

pub const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1f2328;font:14px/1.5 -apple-system,"Segoe UI","Noto Sans","DejaVu Sans",Helvetica,Arial,sans-serif}
a{color:#0969da;text-decoration:none}
a:hover{text-decoration:underline}
code,tt,.sha{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
.topbar{background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:12px 24px;font-size:16px}
.topbar .sim{color:#59636e;font-size:12px;margin-left:8px}
main{max-width:1140px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:28px;font-weight:400;margin:8px 0}
h1 .pr-number{color:#59636e;font-weight:300}
h2{font-size:16px;margin:0 0 8px}
.meta{color:#59636e;padding-bottom:16px;border-bottom:1px solid #d0d7de;margin-bottom:16px}
.branch{background:#ddf4ff;color:#0969da;border-radius:6px;padding:2px 6px}
.state{display:inline-block;color:#fff;border-radius:2em;padding:4px 12px;font-weight:600;margin-right:6px}
.state-open{background:#1f883d}.state-merged{background:#8250df}.state-closed{background:#cf222e}.state-draft{background:#59636e}
.layout{display:grid;grid-template-columns:minmax(0,1fr) 280px;gap:24px}
.sidebar h2{font-size:12px;color:#59636e}
.sidebar section{border-bottom:1px solid #d0d7de;padding-bottom:12px;margin-bottom:12px}
.label{display:inline-block;border-radius:2em;padding:0 10px;font-size:12px;font-weight:500;line-height:22px;margin:0 4px 4px 0;border:1px solid rgba(31,35,40,.15)}
.muted{color:#59636e}
.timeline-item{border:1px solid #d0d7de;border-radius:6px;margin:0 0 16px}
.timeline-item>header{background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:8px 16px;border-radius:6px 6px 0 0;color:#59636e}
.timeline-item>header b{color:#1f2328}
.markdown-body{padding:16px;overflow-x:auto}
.markdown-body>:first-child{margin-top:0}.markdown-body>:last-child{margin-bottom:0}
.markdown-body table{border-collapse:collapse;margin:8px 0}
.markdown-body th,.markdown-body td{border:1px solid #d0d7de;padding:6px 13px}
.markdown-body tr:nth-child(2n){background:#f6f8fa}
.markdown-body code{background:rgba(129,139,152,.12);border-radius:6px;padding:.2em .4em}
.markdown-body details{margin:8px 0}
.timeline-event{margin:0 0 16px 16px;padding:4px 0 4px 16px;border-left:2px solid #d0d7de;color:#59636e}
.timeline-event b{color:#1f2328}
.box{border:1px solid #d0d7de;border-radius:6px;margin:0 0 16px}
.box>h2{background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:8px 16px;margin:0;border-radius:6px 6px 0 0}
.box ul{list-style:none;margin:0;padding:0}
.box li{padding:8px 16px;border-top:1px solid #d8dee4}
.box li:first-child{border-top:0}
.box .empty{padding:8px 16px;color:#59636e}
.summary-line{padding:8px 16px;font-weight:600;border-bottom:1px solid #d8dee4}
.badge{display:inline-block;border-radius:2em;padding:0 8px;font-size:12px;font-weight:600;border:1px solid currentColor;margin:0 4px}
.ok{color:#1a7f37}.bad{color:#d1242f}.wait{color:#9a6700}.off{color:#59636e}
.icon{display:inline-block;width:18px;font-weight:700}
.desc{color:#59636e}
.check-summary{margin:4px 0 0 22px;padding:8px 12px;background:#f6f8fa;border-radius:6px}
.history{font-size:12px;color:#59636e;margin-left:22px}
.pulls li{padding:8px 16px}
"#;
