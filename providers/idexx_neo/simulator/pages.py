"""The HTML pages a browser sees. Static markup only: no scripts, no polling, no external assets,
so a browser waiting for network idle settles as soon as the document has loaded."""

from __future__ import annotations

from html import escape

from providers.idexx_neo.simulator import catalog

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f3f5f8;margin:0;color:#1d2733}
main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1.2rem;padding:.6rem 1.2rem;background:#0a5ca8;color:#fff;border:0;
border-radius:4px}
.error-message{background:#fdecea;color:#8a1c12;padding:.6rem;border-radius:4px}
#dashboard_shell{max-width:60rem}
"""


def _document(title: str, body: str) -> str:
    # The inline icon stops the browser from asking for /favicon.ico.
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · IDEXX Neo</title>"
        '<link rel="icon" href="data:,">'
        f"<style>{_STYLE}</style></head>\n<body>{body}</body></html>\n"
    )


def _error(message: str | None) -> str:
    if not message:
        return ""
    return f'<div class="error-message" role="alert">{escape(message)}</div>'


def login_page(
    *, show_company: bool, error: str | None = None, company_id: str = "", username: str = ""
) -> str:
    company = ""
    if show_company:
        company = (
            '<label for="company_id">Company ID</label>'
            f'<input type="text" id="company_id" name="company_id" value="{escape(company_id)}"'
            ' autocomplete="organization">'
        )
    body = (
        '<main class="login"><h1>Sign in to IDEXX Neo</h1>'
        f"{_error(error)}"
        '<form method="post" action="/login" id="login_form">'
        f"{company}"
        '<label for="username">Username</label>'
        f'<input type="text" id="username" name="username" value="{escape(username)}"'
        ' autocomplete="username">'
        '<label for="password">Password</label>'
        '<input type="password" id="password" name="password" autocomplete="current-password">'
        '<button type="submit">Sign In</button>'
        "</form></main>"
    )
    return _document("Sign in", body)


def second_factor_page(ticket: str, error: str | None = None) -> str:
    body = (
        '<main class="login second-factor"><h1>Verify it\'s you</h1>'
        f"{_error(error)}"
        "<p>Enter the 6-digit code we sent to your phone.</p>"
        '<form method="post" action="/login/verify" id="second_factor_form">'
        f'<input type="hidden" name="ticket" value="{escape(ticket)}">'
        '<label for="code">Verification code</label>'
        '<input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code">'
        '<button type="submit">Verify</button>'
        "</form></main>"
    )
    return _document("Verification", body)


def branch_picker_page(ticket: str) -> str:
    options = "".join(
        f'<li><button type="submit" class="branch-option" name="branch_id" value="{branch_id}">'
        f"{escape(name)}</button></li>"
        for branch_id, name in catalog.BRANCHES
    )
    body = (
        '<main class="login"><h1>Choose a branch</h1>'
        '<form method="post" action="/login/branch" id="branch_picker" class="branch-picker">'
        f'<input type="hidden" name="ticket" value="{escape(ticket)}">'
        f"<ul>{options}</ul></form></main>"
    )
    return _document("Choose a branch", body)


def dashboard_page(clinic_day: str) -> str:
    body = (
        '<div id="dashboard_shell" class="dashboard">'
        "<header><h1>Dashboard</h1>"
        '<nav><a href="/dashboard">Dashboard</a> · <a href="/logout">Sign out</a></nav></header>'
        f'<section class="today"><h2>Today</h2><p data-date="{escape(clinic_day)}">'
        f"{escape(clinic_day)}</p></section>"
        f'<section class="branch"><p>{escape(catalog.BRANCHES[0][1])}</p></section>'
        "</div>"
    )
    return _document("Dashboard", body)
