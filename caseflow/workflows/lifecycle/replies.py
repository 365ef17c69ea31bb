"""Whether a customer's reply to a resolved case reopens it: a pure judge of the reply's words.

Only a short reply made of thanks, "it works" and greetings leaves the case resolved, in
English, Italian, Portuguese, German, French and Spanish. Anything else reopens it: a negation
or "still"/"again" (it still fails), a question, an attachment, a new subject, a long text,
words the judge does not know, or no text at all. When in doubt it reopens: a missed problem
costs more than an extra reopen.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from caseflow.workflows.model import InboundEmail

MAX_SENTENCES = 3  # "a couple of short sentences"; more is a message, not a thank-you
MAX_CHARS = 240
MAX_NAME_WORDS = 3  # a name alone on the last line signs it: "Ada", "Ada Lovelace", "J. Smith"
MAX_TITLE_WORDS = 6  # a signature's line after a sign-off: "Head of IT, Acme Corp"
MAX_SIGNATURE_LINES = 6


@dataclass(frozen=True)
class ReplyVerdict:
    reopen: bool
    reason: str  # a few words for the timeline and the owner: "thanks only", "asks a question"


THANKS_ONLY = ReplyVerdict(reopen=False, reason="thanks only")
SAYS_IT_WORKS = ReplyVerdict(reopen=False, reason="says it works")
STILL_FAILS = ReplyVerdict(reopen=True, reason="says it still fails")
ASKS = ReplyVerdict(reopen=True, reason="asks a new question")
ATTACHMENTS = ReplyVerdict(reopen=True, reason="sends attachments")
NOTHING = ReplyVerdict(reopen=True, reason="nothing to judge")
LONG = ReplyVerdict(reopen=True, reason="writes at length")
NEW_SUBJECT = ReplyVerdict(reopen=True, reason="writes under a new subject")
MORE = ReplyVerdict(reopen=True, reason="says more than thanks")


def judge_reply(email: InboundEmail, case_subject: str, names: Iterable[str] = ()) -> ReplyVerdict:
    """What a reply to a resolved case means. `names` (the sender's, the owner's) may greet or
    sign it without counting as words of their own."""
    if email.attachments or email.attachments_omitted:
        return ATTACHMENTS
    lines = own_lines(email.text)
    known_names = {w for name in names for w in _words(name) if w not in PERSISTS | QUESTIONS}
    verdict = _judge(" ".join(lines), known_names)
    if verdict is not None and verdict.reopen:
        return verdict
    if verdict is None:
        return NOTHING
    if email.text_length or _too_long(lines):
        return LONG
    return _subject_news(email.subject, case_subject, known_names) or verdict


def _judge(text: str, names: set[str]) -> ReplyVerdict | None:
    """A verdict from the words; None when there are none to judge."""
    words = _words(text)
    left, said_it_works = _unmatched(words, names)
    if any(w in PERSISTS for w in left) or _has_phrase(left, PERSISTS_PHRASES):
        return STILL_FAILS
    if "?" in text or "¿" in text or any(w in QUESTIONS for w in left):
        return ASKS
    if left:
        return MORE
    if not words:
        return None
    return SAYS_IT_WORKS if said_it_works else THANKS_ONLY


def _unmatched(words: list[str], names: set[str]) -> tuple[list[str], bool]:
    """The fewest words no known phrase accounts for (phrases may not overlap), and whether a
    phrase said it works: the best reading of each tail of the words, from the end."""
    best: list[tuple[list[str], bool]] = [([], False)] * (len(words) + 1)
    for at in range(len(words) - 1, -1, -1):
        word = words[at]
        left, works = best[at + 1]
        best[at] = (left if word in names else [word, *left], works)
        for size in range(1, min(LONGEST, len(words) - at) + 1):
            phrase = tuple(words[at : at + size])
            if phrase in KNOWN and len(best[at + size][0]) <= len(best[at][0]):
                left, works = best[at + size]
                best[at] = (left, works or phrase in WORKS)
    return best[0]


def _has_phrase(words: list[str], phrases: frozenset[tuple[str, ...]]) -> bool:
    return any(tuple(words[at : at + len(p)]) == p for p in phrases for at in range(len(words)))


def _subject_news(subject: str, case_subject: str, names: set[str]) -> ReplyVerdict | None:
    """A subject other than the case's (our emails carry it: "Proposed resolution: ...") says
    something new, unless it is thanks too."""
    own = _SUBJECT_NOISE.sub(" ", subject)
    own_words = " ".join(_words(own))
    case_words = " ".join(_words(_SUBJECT_NOISE.sub(" ", case_subject)))
    if not own_words or (case_words and (case_words in own_words or own_words in case_words)):
        return None
    verdict = _judge(own, names)
    if verdict is None or not verdict.reopen:
        return None
    return NEW_SUBJECT if verdict is MORE else verdict


def _too_long(lines: list[str]) -> bool:
    sentences = [s for s in _SENTENCE_END.split("\n".join(lines)) if _words(s)]
    return sum(len(line) for line in lines) > MAX_CHARS or len(sentences) > MAX_SENTENCES


# -- the reply's own lines: no quoted history, greeting's name, signature --------------------


def own_lines(text: str) -> list[str]:
    """The lines the customer wrote for this reply: before the quoted history and the
    signature's delimiter, without quoted lines, mobile footers, a greeting's name, or the
    signature after a sign-off (or a name alone on the last line)."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line == "--" or _REPLY_HEADER.match(line):
            break
        if line and not line.startswith(">") and not _FOOTER.match(line):
            lines.append(line)
    if lines:
        lines[0] = _without_greeting(lines[0])
    return _without_signature([line for line in lines if line])


def _without_greeting(line: str) -> str:
    """`Hi Ann, thanks` reads `thanks`: a greeting and whom it greets (names, "team")."""
    greeting = _GREETING.match(line)
    if greeting is None or not all(_is_name_word(p) for p in greeting["whom"].split()):
        return line
    return line[greeting.end() :].strip()


def _without_signature(lines: list[str]) -> list[str]:
    """After a sign-off ("Best regards,", "Cordiali saluti"), name, title and contact lines are
    the signature; without one, only a name alone on the last line is."""
    end = len(lines)
    while end > 1 and len(lines) - end < MAX_SIGNATURE_LINES and _signs(lines[end - 1]):
        end -= 1
    if end < len(lines) and _is_sign_off(lines[end - 1]):
        return lines[:end]
    if len(lines) > 1 and _signs(lines[-1]) and len(lines[-1].split()) <= MAX_NAME_WORDS:
        return lines[:-1]
    return lines


def _is_sign_off(line: str) -> bool:
    return tuple(_words(line)) in SIGN_OFFS


def _signs(line: str) -> bool:
    """A line of a signature: a name, title or company (`Ada Lovelace`, `Head of IT, Acme`),
    an address or a telephone number, and none of its words one the judge reads (`Still
    Broken` is no name)."""
    if "?" in line or any(w in PERSISTS or w in QUESTIONS or (w,) in KNOWN for w in _words(line)):
        return False
    if _CONTACT.fullmatch(line):
        return True
    parts = [p for p in re.split(r"[\s,|/]+", line.strip(" .,!|")) if p]
    return 0 < len(parts) <= MAX_TITLE_WORDS and all(_is_name_word(p) for p in parts)


def _is_name_word(word: str) -> bool:
    """`Ada`, `J.`, `O'Neil`, `IT`, or a word that joins names (`of`, `und`) or greets a
    group (`team`)."""
    if word.casefold() in _NAME_JOINERS:
        return True
    return word[:1].isupper() and _NAME_PART.fullmatch(word) is not None


_REPLY_HEADER = re.compile(
    r"-{2,}\s*(original message|message d'origine|messaggio originale|mensagem original"
    r"|ursprüngliche nachricht|mensaje original)"
    r"|_{5,}$|-{5,}$"
    r"|(on|il|em|am|le|el)\b.{0,200}(wrote|ha scritto|escreveu|schrieb|a écrit|escribió)\s*:?$"
    r"|(from|da|de|von)\s*:.*@",
    re.IGNORECASE,
)
_FOOTER = re.compile(
    r"(sent from my|get outlook for|inviato da|enviado do|enviado desde|von meinem|envoyé de)\b",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"(hi|hello|hey|dear|ciao|salve|gentile|gentili|buongiorno|olá|ola|oi|prezado|prezada"
    r"|caro|cara|hallo|liebe|lieber|guten tag|sehr geehrte[rs]?|bonjour|salut|hola"
    r"|estimado|estimada|buenos días|buenas|bom dia)\b(?P<whom>[^,;:!?]{0,60})[,;:!]",
    re.IGNORECASE,
)
_NAME_PART = re.compile(r"[^\W\d_]+(?:[.'-][^\W\d_]*)*\.?")
_NAME_JOINERS = frozenset(
    {"of", "and", "&", "-", "de", "di", "da", "do", "der", "die", "und", "et", "y", "e"}
    | {"team", "support", "there", "all", "everyone", "tutti", "todos", "zusammen", "tous"}
    | {"equipe", "equipo"}
)
_CONTACT = re.compile(
    r"((e-?mail|mail|correo|posta)\s*:)?\s*<?[\w.+-]+@[\w-]+(\.[\w-]+)+>?"
    r"|(https?://|www\.)\S+"
    r"|((tel|phone|mobile|mob|cell|fax|telefon|telefono|telefone|tél|handy|móvil|movil"
    r"|celular|cel|[mtpf])\.?\s*:?)?\s*\+?[\d ()./-]{6,}",  # Tel.: +44 (0)20 1234 5678
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?;]+(?:\s|$)|\n")
_SUBJECT_NOISE = re.compile(
    r"\[CAS-\d+\]|\b(re|aw|wg|fw|fwd|tr|rv|r|res|enc|sv|antw|rif)\s*:"
    r"|proposed resolution\s*:|we received your request\s*:",
    re.IGNORECASE,
)


# -- words --------------------------------------------------------------------------------------


_CONTRACTIONS = (
    (re.compile(r"\bcan'?t\b"), "cannot"),
    (re.compile(r"\bwon'?t\b"), "will not"),
    (re.compile(r"\b(does|do|did|is|are|was|were|has|have|had|would|could)n'?t\b"), r"\1 not"),
)
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without accents, English contractions spelt out: "Doesn't" and "doesnt"
    read "does not", "Ça" reads "ca", "Grüße" reads "grusse"."""
    text = text.casefold().replace("\u2019", "'").replace("\u2018", "'")
    for contraction, spelt_out in _CONTRACTIONS:
        text = contraction.sub(spelt_out, text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> list[str]:
    """The words, folded; apostrophes and other punctuation part them ("c'est": c, est)."""
    return _WORD.findall(fold(text))


def _phrases(*groups: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(_words(p)) for group in groups for p in group.split("|") if p)


# Saying it works: a reply made of these (and thanks) reads "says it works".
WORKS = _phrases(
    # English
    "it works|it works now|works|works now|working|it is working|it s working|it is working now"
    "|works again|working again|it works again|all working|everything works|everything is working"
    "|everything is fine|it is fine|all is well|all sorted|sorted|problem solved|issue solved"
    "|problem resolved|issue resolved|resolved|solved|fixed|it is fixed|that fixed it|that did it"
    "|that did the trick|that worked|it worked|worked|works perfectly|works great|works fine"
    "|all good|all fine|confirmed|i confirm|you can close it|you can close the case"
    "|please close the case|please close it|the case can be closed|up and running",
    # Italian
    "funziona|ora funziona|adesso funziona|funziona ora|funziona adesso|funziona perfettamente"
    "|funziona bene|tutto funziona|ha funzionato|funzionato|funziona di nuovo|risolto|risolta"
    "|problema risolto|tutto risolto|tutto a posto|tutto ok|tutto bene|è tutto ok|è tutto a posto"
    "|potete chiudere|potete chiudere il caso|potete chiudere la pratica|chiudete pure",
    # Portuguese
    "funcionou|funciona|ja funciona|agora funciona|funciona agora|esta funcionando"
    "|ta funcionando|tudo funcionando|tudo certo|deu certo|resolvido|resolvida"
    "|problema resolvido|voltou a funcionar|funciona novamente|funcionou perfeitamente"
    "|funciona perfeitamente|pode fechar|podem fechar|pode encerrar|podem encerrar",
    # German
    "funktioniert|funktioniert jetzt|es funktioniert|es funktioniert jetzt|jetzt funktioniert es"
    "|funktioniert wieder|es funktioniert wieder|funktioniert einwandfrei|funktioniert perfekt"
    "|hat funktioniert|hat geklappt|klappt|klappt jetzt|es klappt|es klappt jetzt|es geht|es geht"
    " jetzt|geht jetzt|geht wieder|es geht wieder|gelöst|problem gelöst|erledigt|alles klar"
    "|alles gut|alles ok|passt|passt jetzt|der fall kann geschlossen werden"
    "|kann geschlossen werden|sie können den fall schließen",
    # French
    "ça marche|ça marche maintenant|maintenant ça marche|ça fonctionne|ça fonctionne maintenant"
    "|cela fonctionne|tout fonctionne|tout marche|ça remarche|ça marche à nouveau"
    "|ça fonctionne à nouveau|ça a marché|ça a fonctionné|c est bon|c est réglé|c est résolu"
    "|problème résolu|résolu|réglé|tout est bon|tout est ok|tout va bien|nickel|impeccable"
    "|vous pouvez fermer|vous pouvez fermer le ticket|vous pouvez clôturer|vous pouvez clore",
    # Spanish
    "funciona|ya funciona|ahora funciona|funciona ahora|funciona perfectamente|funciona bien"
    "|ya está|ya quedó|todo bien|todo ok|todo correcto|todo funciona|está funcionando|funcionó"
    "|resuelto|resuelta|problema resuelto|solucionado|solucionada|funciona de nuevo"
    "|funciona otra vez|vuelve a funcionar|pueden cerrar|pueden cerrar el caso|puede cerrar",
)

# Thanks, praise, greetings and sign-offs: the rest of what a thank-you is made of.
THANKS = _phrases(
    # English
    "thanks|thank you|thank u|thx|ty|tks|many thanks|thanks a lot|thank you so much"
    "|thanks so much|thank you very much|thanks very much|thanks again|thank you again"
    "|much appreciated|appreciate it|i appreciate it|appreciated|cheers|great|perfect|awesome"
    "|excellent|brilliant|wonderful|fantastic|amazing|ok|okay|good|nice|super|cool|yes|yep"
    "|for your help|for the help|for the quick help|for your quick help|for the quick reply"
    "|for the quick response|for your support|for fixing it|for sorting it out|for that"
    "|have a nice day|have a great day|have a good day|have a great weekend|have a nice weekend"
    "|you are the best|great job|great work|well done|no worries|best|best regards|regards"
    "|kind regards|warm regards|best wishes|all the best|sincerely|br|hi|hello|hey|dear|team"
    "|guys|everyone|folks|so|very|much|really|now|all|and|too|as well|indeed|just|wow|yay"
    "|finally|a lot|again thanks|perfectly|hi there|hello there",
    # Italian
    "grazie|grazie mille|mille grazie|grazie ancora|ancora grazie|grazie di nuovo|grazie tante"
    "|grazie infinite|ti ringrazio|vi ringrazio|la ringrazio|ringrazio|perfetto|perfetta|ottimo"
    "|ottima|benissimo|bene|gentilissimi|gentilissimo|gentilissima|siete stati gentilissimi"
    "|per l aiuto|per il supporto|per la risposta|per l assistenza|per la pazienza"
    "|buona giornata|buona serata|buon lavoro|a presto|saluti|cordiali saluti|distinti saluti"
    "|un saluto|ciao|salve|buongiorno|sì|ok|va bene|ora|adesso|finalmente|molto|davvero"
    "|perfettamente",
    # Portuguese
    "obrigado|obrigada|muito obrigado|muito obrigada|obrigadão|obrigado novamente"
    "|obrigada novamente|mais uma vez obrigado|mais uma vez obrigada|valeu|agradeço"
    "|agradecemos|perfeito|perfeita|ótimo|ótima|excelente|pela ajuda|pelo suporte"
    "|pela resposta|pelo atendimento|pela atenção|bom dia|boa tarde|boa noite|abraço|abraços"
    "|um abraço|atenciosamente|cumprimentos|sim|olá|oi|agora|já|muito|tudo|finalmente"
    "|perfeitamente",
    # German
    "danke|danke schön|dankeschön|vielen dank|vielen lieben dank|herzlichen dank|besten dank"
    "|danke sehr|danke vielmals|danke nochmal|danke nochmals|nochmals danke|nochmals vielen dank"
    "|ich danke ihnen|ich danke dir|super|perfekt|prima|toll|klasse|wunderbar|top"
    "|für die hilfe|für die schnelle hilfe|für ihre hilfe|für deine hilfe|für die unterstützung"
    "|für die schnelle antwort|grüße|viele grüße|beste grüße|liebe grüße|freundliche grüße"
    "|mit freundlichen grüßen|schöne grüße|lg|vg|mfg|gruß|schönen tag|einen schönen tag"
    "|schönes wochenende|hallo|ja|ok|okay|jetzt|nun|wirklich|sehr|auch|endlich|und|einwandfrei",
    # French
    "merci|merci beaucoup|merci bien|merci encore|encore merci|merci infiniment|mille mercis"
    "|un grand merci|grand merci|je vous remercie|je te remercie|pour votre aide|pour ton aide"
    "|pour l aide|pour votre réponse|pour la réponse rapide|pour votre réactivité|parfait"
    "|parfaitement|super|génial|excellent|top|cordialement|bien cordialement|bien à vous"
    "|salutations|bonne journée|bonne soirée|bon week end|à bientôt|amicalement|bonjour|salut"
    "|oui|ok|d accord|maintenant|vraiment|très|bien|et|enfin",
    # Spanish
    "gracias|muchas gracias|muchísimas gracias|mil gracias|gracias de nuevo|gracias otra vez"
    "|de nuevo gracias|nuevamente gracias|te agradezco|le agradezco|les agradezco|se agradece"
    "|perfecto|genial|excelente|estupendo|por su ayuda|por tu ayuda|por la ayuda"
    "|por la respuesta|por el soporte|por la atención|saludos|un saludo|atentamente"
    "|cordialmente|un abrazo|abrazos|buen día|buenas tardes|que tengan buen día|hola|sí|ok"
    "|vale|ya|ahora|muy|mucho|y|finalmente|por fin|perfectamente",
)
KNOWN = WORKS | THANKS
LONGEST = max(len(p) for p in KNOWN)

# Lines that end what the customer wrote: the signature follows.
SIGN_OFFS = _phrases(
    "best|best regards|regards|kind regards|warm regards|best wishes|all the best|cheers"
    "|sincerely|br|thanks|thank you|many thanks|saluti|cordiali saluti|distinti saluti|un saluto"
    "|grazie|grazie mille|a presto|abraço|abraços|um abraço|atenciosamente|cumprimentos"
    "|obrigado|obrigada|grüße|viele grüße|beste grüße|liebe grüße|freundliche grüße"
    "|mit freundlichen grüßen|schöne grüße|lg|vg|mfg|gruß|danke|vielen dank|cordialement"
    "|bien cordialement|bien à vous|salutations|amicalement|merci|saludos|un saludo|atentamente"
    "|cordialmente|un abrazo|abrazos|gracias|muchas gracias"
)

# Words that say the problem is still there (or back): a negation, "still", "again".
PERSISTS = frozenset(
    _words(
        "not no never cannot nothing none still again anymore unfortunately fails failed failing"
        " fail error errors broken broke crash crashes crashed issue problem problems bug same"
        " persists non ancora nuovamente mai più niente nulla errore problema purtroppo continua"
        " não ainda novamente nunca nada erro infelizmente nicht kein keine keinen nie nichts"
        " wieder erneut fehler kaputt weiterhin leider ne n pas plus jamais rien toujours"
        " encore erreur problème plante malheureusement todavía aún sigue siguen nuevamente"
        " falla fallo lamentablemente desafortunadamente"
    )
)
PERSISTS_PHRASES = _phrases("di nuovo|de novo|immer noch|noch immer|de nouveau|à nouveau|otra vez")

# Words that ask something, besides a question mark (German "noch eine Frage" asks: "noch" alone
# is no sign of a persisting problem, "immer noch" is).
QUESTIONS = frozenset(
    _words(
        "how what why when where which who could would question questions wondering come"
        " cosa perché quando dove quale domanda domande potreste posso potete como porque onde"
        " qual pergunta dúvida podem poderiam wie warum wann wo welche welcher frage fragen kann"
        " können könnten comment pourquoi quand quel quelle pouvez pourriez cómo cuándo dónde"
        " cuál pregunta duda puedo pueden podrían"
    )
)
