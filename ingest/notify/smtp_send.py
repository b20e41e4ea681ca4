"""Send one mail through the [notify.digest] SMTP server: the one place that speaks SMTP (stdlib `smtplib`).

TLS is SMTPS (`tls = "ssl"`, port 465), STARTTLS (587) or none (only when the config asks); the certificate is
always verified and its host name checked, against `ca_file` when one is given. Every failure is a `MailSendError`
with one sentence a person can act on, and whether trying again later can help; none holds the password.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage

from ingest.logs import printable
from ingest.notify_config import DigestSettings

TIMEOUT_SECONDS = 30.0
_AUTH_HINT = "for QQ, 163 and 126 mail the password is the authorization code (授权码), not the login password"


class MailSendError(Exception):
    """The digest could not be handed to the SMTP server; `permanent` when trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def send_mail(
    settings: DigestSettings, password: str | None, message: EmailMessage, *, timeout: float = TIMEOUT_SECONDS
) -> None:
    where = f"{settings.host}:{settings.port}"
    try:
        context = _tls_context(settings) if settings.tls != "none" else None
        client: smtplib.SMTP
        if settings.tls == "ssl":
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with client:
            if settings.tls == "starttls":
                client.ehlo()
                if not client.has_extn("starttls"):
                    raise MailSendError(
                        f'{where} does not offer STARTTLS; use tls = "ssl" (usually port 465)', permanent=True
                    )
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                try:
                    client.login(settings.username, password or "")
                except UnicodeEncodeError:  # smtplib sends logins as ASCII, as the AUTH mechanisms define them
                    raise MailSendError(
                        "the username or password has characters other than ASCII, which an SMTP login cannot "
                        "send; authorization codes (授权码) are plain letters",
                        permanent=True,
                    ) from None
            client.send_message(message)
    except MailSendError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise MailSendError(
            f"{where} refused the login of {settings.username} ({_said(exc)}); {_AUTH_HINT}", permanent=True
        ) from None
    except smtplib.SMTPNotSupportedError:
        raise MailSendError(
            f"{where} offers no login (AUTH){' before TLS' if settings.tls == 'none' else ''}; "
            'use tls = "starttls" or "ssl", or leave out username and password',
            permanent=True,
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(f"{to} ({_said(answer)})" for to, answer in exc.recipients.items())
        raise MailSendError(f"{where} refused the recipients: {refused}", permanent=True) from None
    except smtplib.SMTPSenderRefused as exc:
        raise MailSendError(
            f"{where} refused the sender {settings.sender} ({_said(exc)}); the from address usually must be "
            "the account's own",
            permanent=True,
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise MailSendError(f"{where} refused the mail ({_said(exc)})", permanent=exc.smtp_code >= 500) from None
    except ssl.SSLCertVerificationError as exc:
        raise MailSendError(
            f"{where}: the server's certificate is not trusted ({exc.verify_message}); for a private CA set ca_file",
            permanent=True,
        ) from None
    except ssl.SSLError as exc:
        advice = 'port 465 is usually tls = "ssl", 587 tls = "starttls"'
        raise MailSendError(f"{where}: TLS failed ({exc.reason or exc}); {advice}", permanent=True) from None
    except smtplib.SMTPServerDisconnected:
        raise MailSendError(f"{where} closed the connection unexpectedly") from None
    except socket.gaierror:
        raise MailSendError(f"{settings.host}: the host name cannot be resolved") from None
    except TimeoutError:
        raise MailSendError(f"{where}: no answer within {timeout:g} s") from None
    except ConnectionRefusedError:
        raise MailSendError(f"{where}: connection refused (is the port right?)") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise MailSendError(f"{where}: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None


def _tls_context(settings: DigestSettings) -> ssl.SSLContext:
    if settings.ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(settings.ca_file))
    except FileNotFoundError:
        raise MailSendError(f"ca_file {settings.ca_file} does not exist", permanent=True) from None
    except (OSError, ssl.SSLError) as exc:
        raise MailSendError(
            f"ca_file {settings.ca_file} cannot be read as PEM certificates ({exc})", permanent=True
        ) from None


def _said(exc: smtplib.SMTPResponseException | tuple[int, bytes]) -> str:
    """The server's answer, e.g. '535 Authentication failed'."""
    code, text = (exc.smtp_code, exc.smtp_error) if isinstance(exc, smtplib.SMTPResponseException) else exc
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return printable(f"{code} {words}".strip())[:200]
