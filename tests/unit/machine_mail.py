"""Mail that machines write, in shapes the shared corpus does not hold: non-delivery reports of
GroupWise, Exchange, Domino and unnamed MTAs in plain text, antivirus and content gateways, delay
warnings, moderators' holds, reports without a sender, in six languages. Written for Caseflow's
tests after the formats these systems use; no byte of them comes from elsewhere.

Each is `name → bytes`; `PEOPLE` are persons' messages that look like them in part (a parcel
that "could not be delivered", a bounce forwarded with a question), which must stay people's.
"""

from __future__ import annotations

SUPPORT = "support@caseflow.test"


def mail(head: str, body: str) -> bytes:
    """A message from its header lines and body, with CRLF line ends as an MTA delivers it."""
    text = head.strip("\n") + "\n" + "MIME-Version: 1.0\n"
    if "content-type:" not in head.lower():
        text += "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n"
    text += "\n" + body.lstrip("\n")
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def _ours(n: int) -> str:
    return f"<CAS-00{n:04d}.0123456789abcdef01234567@caseflow.test>"


MACHINES: dict[str, bytes] = {
    "groupwise-ndr": mail(
        f"""
From: postmaster@gw.example.org
To: {SUPPORT}
Subject: Undeliverable: Re: [CAS-001201] Printer on fire
Date: Mon, 7 Dec 2026 09:12:00 +0100
Message-ID: <gw.1201@gw.example.org>
X-Mailer: GroupWise Internet Agent 18.4.1
""",
        """
The message that you sent was undeliverable to the following:
        jdoe (user not found)

Possibly truncated original message follows:

Subject: Re: [CAS-001201] Printer on fire
""",
    ),
    "groupwise-gwia-named": mail(
        f"""
From: "GroupWise Internet Agent" <gwia@mail.example.net>
To: {SUPPORT}
Subject: Message status - undeliverable
Date: Mon, 7 Dec 2026 09:13:00 +0100
Message-ID: <gwia.2@mail.example.net>
""",
        """
The message that you sent was undeliverable to the following:
        k.meyer@example.net (host not found)
""",
    ),
    "exchange-ndr-microsoftexchange": mail(
        f"""
From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@corp.example.com>
To: {SUPPORT}
Subject: Undeliverable: We received your request: Printer on fire
Date: Mon, 7 Dec 2026 10:00:00 +0000
Message-ID: <ndr.7788@corp.example.com>
Content-Language: en-US
""",
        """
Delivery has failed to these recipients or groups:

Pat Jones (pat.jones@corp.example.com)
The email address you entered couldn't be found. Please check the recipient's email address
and try to resend the message.

Diagnostic information for administrators:
Generating server: EX01.corp.example.com
pat.jones@corp.example.com
Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'
""",
    ),
    "exchange-2003-system-administrator": mail(
        f"""
From: System Administrator <admin@legacy.example.com>
To: {SUPPORT}
Subject: Undeliverable: Your case CAS-001202
Date: Mon, 7 Dec 2026 10:01:00 +0000
Message-ID: <sa.1202@legacy.example.com>
""",
        """
Your message did not reach some or all of the intended recipients.

      Subject:  Your case CAS-001202
      Sent:     07/12/2026 10:00

The following recipient(s) cannot be reached:

      bob@legacy.example.com on 07/12/2026 10:01
            The e-mail account does not exist at the organization this message was sent to.
            <EX1.legacy.example.com #5.1.1>
""",
    ),
    "domino-delivery-failure": mail(
        f"""
From: Postmaster@notes.example.biz
To: {SUPPORT}
Subject: DELIVERY FAILURE: User carla not listed in Domino Directory
Date: Mon, 7 Dec 2026 11:00:00 +0100
Message-ID: <OF1234.5678-ON00@notes.example.biz>
""",
        """
Your message

  Subject: Re: [CAS-001203] Invoice question

was not delivered to:

  carla@notes.example.biz

because:

  User carla (carla@notes.example.biz) not listed in Domino Directory
""",
    ),
    "domino-mail-router": mail(
        f"""
From: "Mail Router" <router@domino.example.biz>
To: {SUPPORT}
Subject: DELIVERY FAILURE: Router: Unable to deliver message
Date: Mon, 7 Dec 2026 11:05:00 +0100
Message-ID: <router.55@domino.example.biz>
""",
        """
Your message was not delivered to the following recipients:

  erik@domino.example.biz  - Router: Unable to deliver message
""",
    ),
    "plain-mta-from-root": mail(
        f"""
From: root@mx3.example.net
To: {SUPPORT}
Subject: failure notice
Date: Mon, 7 Dec 2026 12:00:00 +0000
Message-ID: <qm.123@mx3.example.net>
""",
        """
Hi. This is the qmail-send program at mx3.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<dana@example.net>:
Sorry, no mailbox here by that name. (#5.1.1)
""",
    ),
    "plain-mta-unnamed-sender": mail(
        f"""
From: mail@relay.example.org
To: {SUPPORT}
Subject: Returned mail: see transcript for details
Date: Mon, 7 Dec 2026 12:05:00 +0000
Message-ID: <tx.9@relay.example.org>
""",
        """
The original message was received at Mon, 7 Dec 2026 12:04:58 GMT
from caseflow.test [192.0.2.10]

   ----- The following addresses had permanent fatal errors -----
<ed@relay.example.org>
    (reason: 550 5.1.1 <ed@relay.example.org>... User unknown)

   ----- Transcript of session follows -----
... while talking to mx.relay.example.org.:
>>> RCPT To:<ed@relay.example.org>
<<< 550 5.1.1 <ed@relay.example.org>... User unknown
""",
    ),
    "smtp-transcript-only": mail(
        f"""
From: delivery@hosting.example.com
To: {SUPPORT}
Subject: Mail could not be delivered
Date: Mon, 7 Dec 2026 12:10:00 +0000
Message-ID: <tr.10@hosting.example.com>
""",
        """
SMTP error from remote mail server after RCPT TO:<fay@hosting.example.com>:
host mx.hosting.example.com [203.0.113.5] said: 550 5.1.1 mailbox unavailable
""",
    ),
    "antivirus-gateway": mail(
        f"""
From: antivirus@gw.example.com
To: {SUPPORT}
Subject: VIRUS ALERT: message blocked
Date: Mon, 7 Dec 2026 13:00:00 +0000
Message-ID: <av.1@gw.example.com>
""",
        """
A virus was found in a message you sent and the message was not delivered.

Recipient: gil@example.com
Virus: EICAR-Test-File
""",
    ),
    "content-filter-it-department": mail(
        f"""
From: IT Services <it@corp.example.org>
To: {SUPPORT}
Subject: Message blocked
Date: Mon, 7 Dec 2026 13:05:00 +0000
Message-ID: <cf.1@corp.example.org>
""",
        """
This is an automatically generated message. Your message to hal@corp.example.org was blocked
by the content filter because it contains an attachment of a type that is not allowed.
""",
    ),
    "mailscanner-quarantine": mail(
        f"""
From: "MailScanner" <mailscanner@filter.example.net>
To: {SUPPORT}
Subject: Warning: E-mail viruses detected
Date: Mon, 7 Dec 2026 13:10:00 +0000
Message-ID: <ms.1@filter.example.net>
""",
        """
Our virus detector has just been triggered by a message you sent:
  To: ian@example.net
  Subject: Re: [CAS-001204] Login
Any infected parts of the message have not been delivered.
""",
    ),
    "postfix-delay": mail(
        f"""
From: MAILER-DAEMON@mx.example.de (Mail Delivery System)
To: {SUPPORT}
Subject: Delayed Mail (still being retried)
Date: Mon, 7 Dec 2026 14:00:00 +0100
Message-ID: <delay.1@mx.example.de>
""",
        """
This is the mail system at host mx.example.de.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old.
""",
    ),
    "sendmail-warning-from-mta-account": mail(
        f"""
From: Mail Delivery Subsystem <mailer@host.example.com>
To: {SUPPORT}
Subject: Warning: could not send message for past 4 hours
Date: Mon, 7 Dec 2026 14:05:00 +0000
Message-ID: <w.4h@host.example.com>
""",
        """
    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Mon, 7 Dec 2026 10:05 GMT
Will keep trying for 5 days.
""",
    ),
    "exchange-delay-dsn": mail(
        f"""
From: postmaster@exchange.example.com
To: {SUPPORT}
Subject: Delivery Status Notification (Delay)
Date: Mon, 7 Dec 2026 14:10:00 +0000
Message-ID: <dsn.delay@exchange.example.com>
""",
        """
This is an automatically generated Delivery Status Notification.

THIS IS A WARNING MESSAGE ONLY.

YOU DO NOT NEED TO RESEND YOUR MESSAGE.

Delivery to the following recipients has been delayed.

       jo@exchange.example.com
""",
    ),
    "mailman-moderation": mail(
        f"""
From: support-list-bounces@lists.example.org
To: {SUPPORT}
Subject: Your message to Support-list awaits moderator approval
Date: Mon, 7 Dec 2026 15:00:00 +0000
Message-ID: <mm.1@lists.example.org>
""",
        """
Your mail to 'Support-list' with the subject

    Re: [CAS-001205] Printer on fire

Is being held until the list moderator can review it for approval.

The reason it is being held:

    Post by non-member to a members-only list
""",
    ),
    "listserv-moderation-owner": mail(
        f"""
From: "L-Soft list server" <owner-partners@listserv.example.edu>
To: {SUPPORT}
Subject: Your message to PARTNERS requires approval
Date: Mon, 7 Dec 2026 15:05:00 +0000
Message-ID: <ls.1@listserv.example.edu>
""",
        """
Your message to the PARTNERS list has been held for moderation and will be
distributed once a moderator approves it.
""",
    ),
    "google-groups-pending": mail(
        f"""
From: Google Groups <noreply@groups.example.com>
To: {SUPPORT}
Subject: Your message is pending approval
Date: Mon, 7 Dec 2026 15:10:00 +0000
Message-ID: <gg.1@groups.example.com>
Auto-Submitted: auto-generated
""",
        """
Your message to partners@groups.example.com is awaiting moderator approval.
""",
    ),
    "report-without-any-from": mail(
        f"""
To: {SUPPORT}
Subject: Delivery Status Notification (Failure)
Date: Mon, 7 Dec 2026 16:00:00 +0000
Message-ID: <nofrom.1@mx.example.net>
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"
""",
        """
--b1
Content-Type: text/plain

Delivery to the following recipient failed permanently: kim@example.net
--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; kim@example.net
Action: failed
Status: 5.1.1
--b1--
""",
    ),
    "null-sender-plain-text": mail(
        f"""
From: <>
To: {SUPPORT}
Subject: Mail delivery failed
Date: Mon, 7 Dec 2026 16:05:00 +0000
Message-ID: <null.1@mx.example.net>
""",
        """
Message to lou@example.net could not be delivered: mailbox unavailable.
""",
    ),
    "null-return-path-unknown-sender": mail(
        f"""
Return-Path: <>
From: Delivery <notify@mx2.example.com>
To: {SUPPORT}
Subject: Notice
Date: Mon, 7 Dec 2026 16:10:00 +0000
Message-ID: <rp.1@mx2.example.com>
""",
        """
Could not deliver to max@example.com.
""",
    ),
    "german-ndr": mail(
        f"""
From: Mail Delivery System <MAILER-DAEMON@mail.example.de>
To: {SUPPORT}
Subject: Unzustellbar: Ihre Anfrage CAS-001206
Date: Mon, 7 Dec 2026 17:00:00 +0100
Message-ID: <de.1@mail.example.de>
""",
        """
Dies ist eine automatisch erstellte Benachrichtigung.
Ihre Nachricht an nina@example.de konnte nicht zugestellt werden.
""",
    ),
    "french-ndr-gateway": mail(
        f"""
From: "Passerelle de messagerie" <passerelle-smtp@example.fr>
To: {SUPPORT}
Subject: Non remis : Votre demande CAS-001207
Date: Mon, 7 Dec 2026 17:05:00 +0100
Message-ID: <fr.1@example.fr>
""",
        """
Votre message n'a pas pu être remis à oscar@example.fr.
Ceci est une notification automatique.
""",
    ),
    "italian-ndr": mail(
        f"""
From: Postmaster <postmaster@posta.example.it>
To: {SUPPORT}
Subject: Messaggio non recapitabile
Date: Mon, 7 Dec 2026 17:10:00 +0100
Message-ID: <it.1@posta.example.it>
""",
        """
Questo è un messaggio automatico. Il messaggio a paola@example.it non è stato recapitato.
""",
    ),
    "portuguese-ndr": mail(
        f"""
From: "Sistema de Correio" <mailer-daemon@correio.example.br>
To: {SUPPORT}
Subject: Falha na entrega da mensagem
Date: Mon, 7 Dec 2026 17:15:00 -0300
Message-ID: <pt.1@correio.example.br>
""",
        """
Esta é uma mensagem automática. A sua mensagem para quim@example.br não pôde ser entregue.
""",
    ),
    "spanish-ndr-unusual-sender": mail(
        f"""
From: Servicio de correo <avisos@correo.example.es>
To: {SUPPORT}
Subject: Mensaje no entregado
Date: Mon, 7 Dec 2026 17:20:00 +0100
Message-ID: <es.1@correo.example.es>
""",
        """
Este es un mensaje automático. Su mensaje a rosa@example.es no pudo ser entregado.
""",
    ),
    "italian-delay": mail(
        f"""
From: MAILER-DAEMON@posta.example.it
To: {SUPPORT}
Subject: Avviso: recapito ritardato
Date: Mon, 7 Dec 2026 17:25:00 +0100
Message-ID: <it.2@posta.example.it>
""",
        """
Il messaggio per sara@example.it non è stato ancora recapitato. Nuovi tentativi in corso.
""",
    ),
    "ndr-gateway-account": mail(
        f"""
From: ndr@groupwise.example.com
To: {SUPPORT}
Subject: Re: [CAS-001208] Printer on fire
Date: Mon, 7 Dec 2026 17:30:00 +0000
Message-ID: <ndr.1@groupwise.example.com>
""",
        """
Message could not be delivered to tom@groupwise.example.com.
""",
    ),
    "no-from-plain-text": mail(
        f"""
To: {SUPPORT}
Subject: Returned mail
Date: Mon, 7 Dec 2026 17:40:00 +0000
Message-ID: <nofrom.2@mx.example.org>
""",
        """
Your message to vic@example.org could not be delivered. No such user.
""",
    ),
    "from-a-name-without-address": mail(
        f"""
From: Mail Delivery System
To: {SUPPORT}
Subject: Undelivered Mail Returned to Sender
Date: Mon, 7 Dec 2026 17:45:00 +0000
Message-ID: <noaddr.1@mx.example.org>
""",
        """
I'm sorry to have to inform you that your message could not be delivered to wim@example.org.
""",
    ),
    "virus-notice-from-an-admin": mail(
        f"""
From: admin@corp.example.net
To: {SUPPORT}
Subject: Message rejected
Date: Mon, 7 Dec 2026 17:50:00 +0000
Message-ID: <adm.1@corp.example.net>
""",
        """
The message you sent to xavier@corp.example.net contained a virus and was removed.
""",
    ),
    "barracuda-hold": mail(
        f"""
From: "Barracuda Email Security" <barracuda@esg.example.com>
To: {SUPPORT}
Subject: Message quarantined
Date: Mon, 7 Dec 2026 17:55:00 +0000
Message-ID: <bc.1@esg.example.com>
""",
        """
A message you sent to yan@example.com has been placed in quarantine by the administrator.
""",
    ),
    "read-receipt-nested-report": mail(
        f"""
From: uma@example.com
To: {SUPPORT}
Subject: Read: Your case CAS-001209
Date: Mon, 7 Dec 2026 17:35:00 +0000
Message-ID: <mdn.1@example.com>
Content-Type: multipart/mixed; boundary="m1"
""",
        """
--m1
Content-Type: multipart/report; report-type=disposition-notification; boundary="m2"

--m2
Content-Type: text/plain

Your message was read on Monday.
--m2
Content-Type: message/disposition-notification

Final-Recipient: rfc822; uma@example.com
Disposition: manual-action/MDN-sent-manually; displayed
--m2--
--m1--
""",
    ),
}

# Persons' messages that share a word or a shape with the machines' above.
PEOPLE: dict[str, bytes] = {
    "a colleague copied in a sentence": mail(
        f"""
From: Nora Quinn <nora@acme.example>
To: {SUPPORT}
Subject: Still broken
Date: Mon, 7 Dec 2026 10:00:00 +0000
Message-ID: <p20@acme.example>
""",
        """
It is still broken. My colleague, bob@acme.example, saw it too.
Please copy my colleague, bob@acme.example, on the reply.
""",
    ),
    "a renewal from a vendor's team": mail(
        f"""
From: Sophos Renewals <renewals@vendor.example>
To: {SUPPORT}
Subject: Your quote
Date: Mon, 7 Dec 2026 10:05:00 +0000
Message-ID: <p21@vendor.example>
""",
        """
Hello, please find our quote for next year. Can you confirm the number of seats?
""",
    ),
    "a bounce forwarded as a file": mail(
        f"""
From: Olga Berg <olga@example.org>
To: {SUPPORT}
Subject: Fwd: this bounced
Date: Mon, 7 Dec 2026 10:10:00 +0000
Message-ID: <p22@example.org>
Content-Type: multipart/mixed; boundary="fw"
""",
        """
--fw
Content-Type: text/plain

Hi, my mail to your billing team bounced, the report is attached. What is the right address?
--fw
Content-Type: message/rfc822

From: MAILER-DAEMON@example.org
To: olga@example.org
Subject: Undelivered Mail Returned to Sender
Message-ID: <b1@example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

This is the mail system at host example.org. I'm sorry to have to inform you that your message
could not be delivered to one or more recipients.
--r
Content-Type: message/delivery-status

Reporting-MTA: dns; example.org

Final-Recipient: rfc822; billing@caseflow.test
Action: failed
Status: 5.1.1
--r--
--fw--
""",
    ),
    "through the support address's own group": mail(
        f"""
From: Pia Lund <pia@example.se>
To: {SUPPORT}
Subject: Printer on fire
Date: Mon, 7 Dec 2026 10:15:00 +0000
Message-ID: <p23@example.se>
List-Id: <support.caseflow.test>
Mailing-list: list support@caseflow.test; contact support+owners@caseflow.test
Precedence: list
""",
        """
Hello, my printer is on fire.
""",
    ),
    "parcel-could-not-be-delivered": mail(
        f"""
From: Vera Lima <vera@example.com>
To: {SUPPORT}
Subject: My parcel could not be delivered
Date: Mon, 7 Dec 2026 09:00:00 +0000
Message-ID: <p1@example.com>
""",
        """
Hello, the courier says my parcel could not be delivered. The address on the order is right.
Can you help? Order 4711.
""",
    ),
    "forwarded-bounce-with-a-question": mail(
        f"""
From: Walt <walt@example.org>
To: {SUPPORT}
Subject: Fwd: Undeliverable: invoice
Date: Mon, 7 Dec 2026 09:05:00 +0000
Message-ID: <p2@example.org>
""",
        """
Hi, my invoice to your billing address bounced, see below. Which address should I use?

---------- Forwarded message ---------
From: Mail Delivery System <MAILER-DAEMON@example.org>
Subject: Undeliverable: invoice

Delivery has failed to these recipients or groups:
billing@caseflow.test
Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'
""",
    ),
    "pasted-smtp-error": mail(
        f"""
From: Xena <xena@example.net>
To: {SUPPORT}
Subject: Error when sending mail
Date: Mon, 7 Dec 2026 09:10:00 +0000
Message-ID: <p3@example.net>
""",
        """
Good morning,

since yesterday I get this when I send to my colleague:
550 5.1.1 <yuri@example.net>... User unknown
Status: 5.1.1
Can you check our mail server?
""",
    ),
    "german-paket": mail(
        f"""
From: Jana Weber <jana.weber@example.de>
To: {SUPPORT}
Subject: Paket nicht zugestellt
Date: Mon, 7 Dec 2026 09:15:00 +0100
Message-ID: <p4@example.de>
""",
        """
Guten Tag, mein Paket wurde nicht zugestellt. Können Sie nachsehen, wo es ist?
""",
    ),
    "french-colis": mail(
        f"""
From: Luc Martin <luc.martin@example.fr>
To: {SUPPORT}
Subject: Colis non remis
Date: Mon, 7 Dec 2026 09:20:00 +0100
Message-ID: <p5@example.fr>
""",
        """
Bonjour, mon colis n'a pas pu être livré. Que dois-je faire ?
""",
    ),
    "italian-pacco": mail(
        f"""
From: Marta Rossi <marta.rossi@example.it>
To: {SUPPORT}
Subject: Pacco non recapitato
Date: Mon, 7 Dec 2026 09:25:00 +0100
Message-ID: <p6@example.it>
""",
        """
Buongiorno, il corriere dice che il pacco non è stato possibile consegnarlo. Potete aiutarmi?
""",
    ),
    "portuguese-encomenda": mail(
        f"""
From: Joana Silva <joana@example.pt>
To: {SUPPORT}
Subject: Encomenda não entregue
Date: Mon, 7 Dec 2026 09:30:00 +0000
Message-ID: <p7@example.pt>
""",
        """
Olá, a minha encomenda não foi entregue. Podem verificar?
""",
    ),
    "spanish-pedido": mail(
        f"""
From: Diego Ruiz <diego@example.es>
To: {SUPPORT}
Subject: Pedido no entregado
Date: Mon, 7 Dec 2026 09:35:00 +0100
Message-ID: <p8@example.es>
""",
        """
Hola, mi pedido no fue entregado. ¿Pueden revisarlo?
""",
    ),
    "it-admin-asking-about-quarantine": mail(
        f"""
From: Sam Okoro <s.okoro@example.com>
To: {SUPPORT}
Subject: Your emails land in our quarantine
Date: Mon, 7 Dec 2026 09:40:00 +0000
Message-ID: <p9@example.com>
""",
        """
Hi team, I run our mail gateway. Your acknowledgements are quarantined by our antivirus
as suspicious. Could you tell me which servers you send from?
""",
    ),
    "mobile-one-liner": mail(
        f"""
From: zoe@example.com
To: {SUPPORT}
Subject: Login broken
Date: Mon, 7 Dec 2026 09:45:00 +0000
Message-ID: <p10@example.com>
""",
        """
Can't log in since this morning.

Sent from my iPhone
""",
    ),
    "subject-only": mail(
        f"""
From: Ann Bell <ann@example.com>
To: {SUPPORT}
Subject: Please call me back on 0123 456 789
Date: Mon, 7 Dec 2026 09:50:00 +0000
Message-ID: <p11@example.com>
""",
        "",
    ),
}


# People's messages that a report's sign alone would have taken for a machine's: each opens a
# case (never noise), though it may get no acknowledgement (a sign keeps it away).
LOOK_LIKE_REPORTS: dict[str, bytes] = {
    name: mail(
        f"From: {sender}\nTo: {SUPPORT}\nSubject: {subject}\nMessage-ID: <lr.{n}@example.com>\n",
        body,
    )
    for n, (name, sender, subject, body) in enumerate(
        [
            (
                "delivery failed",
                "Ann <ann@example.com>",
                "Parcel",
                "Delivery failed to my address twice.",
            ),
            (
                "delivery delayed",
                "Ben <ben@example.com>",
                "Parcel",
                "Delivery delayed: still no parcel.",
            ),
            (
                "message cannot be sent",
                "Cy <cy@example.com>",
                "App",
                "The message cannot be sent when I attach a PDF in your app.",
            ),
            (
                "threat detected",
                "Di <di@example.com>",
                "Update",
                "Threat detected when I install your update.",
            ),
            (
                "undeliverable order",
                "Ed <ed@example.com>",
                "Undeliverable: order 5567",
                "Where is it?",
            ),
            ("nicht zustellbar", "Fe <fe@example.de>", "Nicht zustellbar: Paket 123", "Wo ist es?"),
            ("initials mta", "Mia T. Andersen <mta@example.dk>", "Login", "I cannot log in."),
            ("sysadmin root", "Root Admin <root@shop.example>", "Server", "Our shop is down."),
            (
                "payments gateway team",
                "Payments <payments-gateway@shop.example>",
                "Refund",
                "Refund for order 7?",
            ),
            (
                "product owner",
                "Po <product-owner@shop.example>",
                "Feature",
                "Can we have dark mode?",
            ),
            (
                "access request",
                "IT <access-request@corp.example>",
                "Access",
                "Please give Tim access.",
            ),
            (
                "email services team",
                "Mail team <emailservices@corp.example>",
                "DNS",
                "Which SPF record do we need?",
            ),
            (
                "vacation rental",
                "Gil <gil@example.com>",
                "Vacation rental refund",
                "We were on vacation and the flat was dirty.",
            ),
        ]
    )
}
