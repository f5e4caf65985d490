/// The login page: self-contained (no external assets, no script), in the dashboard's dark style.
enum LoginPage {
    /// The page, with an optional error line and the path to return to after login.
    static func html(error: String?, next: String) -> String {
        let errorLine = error.map { #"<p class="error" role="alert">\#(escape($0))</p>"# } ?? ""
        return #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · SerialBridge</title>
<style>
  :root { --bg:#0f1419; --panel:#182028; --text:#e6e9ec; --muted:#8a96a3; --bad:#f85149; --accent:#58a6ff; --line:#26313b; }
  * { box-sizing: border-box; }
  body { margin:0; min-height:100vh; display:flex; align-items:center; justify-content:center;
         font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--text); }
  form { width:min(360px, calc(100vw - 32px)); background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:24px; }
  h1 { font-size:18px; margin:0 0 4px; }
  p.hint { color:var(--muted); margin:0 0 20px; font-size:13px; }
  label { display:block; color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; margin:14px 0 6px; }
  input { width:100%; padding:9px 10px; border-radius:6px; border:1px solid var(--line); background:var(--bg); color:var(--text); font:inherit; }
  input:focus { outline:2px solid var(--accent); outline-offset:-1px; }
  button { margin-top:20px; width:100%; padding:10px; border:0; border-radius:6px; background:var(--accent); color:#0f1419; font:600 14px system-ui, sans-serif; cursor:pointer; }
  .error { color:var(--bad); margin:12px 0 0; }
</style>
</head>
<body>
<form method="post" action="/login">
  <h1>SerialBridge</h1>
  <p class="hint">Log in to see your gateways and devices.</p>
  \#(errorLine)
  <label for="user">User</label>
  <input id="user" name="user" autocomplete="username" autocapitalize="none" spellcheck="false" autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <input type="hidden" name="next" value="\#(escape(next))">
  <button type="submit">Log in</button>
</form>
</body>
</html>
"""#
    }

    /// Escapes text for HTML content and double-quoted attributes.
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
