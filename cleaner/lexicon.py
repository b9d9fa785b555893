"""Word lists and patterns the judge uses, kept as data so they can be read and extended
without touching the scoring code.

Every list here is generic web furniture or generic promotional language (English).
None of it names a site, an outlet or a particular promo.
"""

from __future__ import annotations

import re

#: Function words. A prose paragraph is roughly 40-50% stopwords; page furniture,
#: headlines and teaser links have far fewer.
STOPWORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each few for from further had hadn't has hasn't have haven't having he he'd
he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into
is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only or
other ought our ours ourselves out over own same shan't she she'd she'll she's should shouldn't so
some such than that that's the their theirs them themselves then there there's these they they'd
they'll they're they've this those through to too under until up very was wasn't we we'd we'll
we're we've were weren't what what's when when's where where's which while who who's whom why
why's with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
also said says just like will s t has had been new one two
""".split())

#: Words of page tools and navigation (share/print/font tools, feeds, paging, galleries).
#: A short block made mostly of these is site furniture, not article text.
FURNITURE_WORDS = frozenset("""
print printer printable friendly email e-mail mail emailed share shares sharing reprint reprints
rss feed feeds digg delicious del.icio.us newsvine stumbleupon reddit facebook twitter linkedin
whatsapp pinterest tumblr tweet bookmark bookmarks font text size larger smaller enlarge decrease
increase comments comment permalink trackback next previous prev back top home page pages
article this add single gallery galleries slideshow photos photo video videos image images view views
subscribe subscription newsletter newsletters alerts alert sign login log register registration
save saved recommend recommended popular stories articles headlines links tools story options
toolbar menu sections section search archive archives topics tags tag filed category categories
posted version respond discuss discussion votes vote rate rating submit toolbox friend
talkback talkbacks blog blogs podcasts translate google yahoo normal large small listen post go
""".split())

#: Multi-word furniture that is unambiguous on its own ("Article continues below").
FURNITURE_PATTERNS = re.compile(  # one shared word start: see the note above PROMO_STRONG
    r"""(?ix) \b(?=\w)(?:
      (?:article|story)\s+continues\b
    | continue\s+reading\b
    | (?:read|see|view|show)\s+(?:more|all|full|the\s+full|larger|comments)\b
    | (?:sign|log)\s+(?:up|in|out)\b
    | follow\s+us\b
    | share\s+(?:this|on|via)\b
    | text\s+size\b
    | font\s+size\b
    | email\s+(?:this|to\s+a\s+friend)\b
    | send\s+to\s+(?:a\s+)?friend\b
    | printer[\s-]+friendly\b
    | most\s+(?:popular|read|viewed|e-?mailed|shared)\b
    | comments?\s+\(\d+\)
    | have\s+your\s+say\b
    | skip\s+to\b
    | back\s+to\s+top\b
    | cookies?\b.*\b(?:accept|consent|policy|use)\b
    | (?:accept|manage)\s+(?:all\s+)?cookies\b
    )"""
)

#: Copyright and rights lines.
COPYRIGHT = re.compile(r"(?i)(?:©|\(c\)\s*\d{4}|\bcopyright\b|\ball\s+rights\s+reserved\b)")

#: Labels that introduce a list of links to other articles.
RELATED_HEADER = re.compile(
    r"""(?ix)^\W*(?:
      related(?:\s+(?:links?|articles?|stories|news|content|coverage|reading|posts?|topics|videos?))?
    | see\s+also | more | (?:also|more)\s+(?:by|from)\s+(?:this|the)\s+(?:author|writer|reporter|columnist)
    | more\s+(?:on|from|about|in)\s+(?:this|these|the)?\s*(?:\w+\s*){1,3}
    | more\s+(?:news|stories|headlines|articles|videos|coverage)
    | also\s+(?:on|in|read|see)\b\W*\w*\W*\w* | you\s+(?:may|might)\s+(?:also\s+)?(?:like|enjoy|be\s+interested\s+in)
    | recommended(?:\s+\w+)? | (?:most|also)\s+popular(?:\s+\w+)? | (?:top|latest|trending|more)\s+(?:stories|news|headlines|articles|videos)
    | read\s+(?:more|next|also) | don'?t\s+miss | further\s+reading | in\s+case\s+you\s+missed\s+it | editor'?s\s+picks?
    | what\s+to\s+read\s+next | popular\s+(?:stories|now|posts?|articles?)
    )\W*$"""
)

#: Markers that a block is an advertisement slot or sponsored content.
AD_MARKER = re.compile(
    r"(?i)^\W*(?:advertisements?|advertising|ads\s+by\s+\w+|sponsored(?:\s+(?:content|links?|post|by\b.*))?|"
    r"paid\s+(?:content|post|partner\w*)|promoted(?:\s+\w+)?|ad|ads|commercial|partner\s+content|"
    r"story\s+continues\s+below(?:\s+advertisement)?|advertise\s+\w+.*|advertisement\s*-?\s*scroll.*)\W*$"
)

#: Imperative verbs that open calls to action ("Subscribe to...", "Listen to...").
CTA_VERBS = frozenset("""
click tap subscribe sign join download get try listen watch follow read register learn discover
find call shop buy order visit check start claim grab save unlock upgrade apply book install
request contact enter win donate support share like discuss compare see explore enroll enrol
""".split())

# The phrase lists below that begin with a word all start with one ``\b(?=\w)`` (a word
# start) shared by the phrases, not a ``\b`` each: the regex engine then tests one thing at
# each position of a text and tries the phrases only where a word begins (these patterns
# run over whole paragraphs, and this makes them 1.5-5x faster).

#: Phrases typical of promotional copy addressed to the reader.
PROMO_STRONG = re.compile(
    r"""(?ix) \b(?=\w)(?:
      click\s+(?:here|below|the\s+link|on\s+(?:a|the|this|any)\b)
    | tap\s+here\b
    | (?:sign|signing)\s+up\b
    | subscribe\b | newsletters?\b | unsubscribe\b | inbox\b | mailing\s+list\b
    | podcast\b | episode\s+\d+ | listen\s+(?:now|on)\b | watch\s+(?:now|live)\b
    | free\s+(?:trial|shipping|quote|consultation|e-?book|webinar)\b
    | no\s+\w+(?:\s+\w+)?\s+required\b
    | (?:as\s+low\s+as|starting\s+at)\s+[$€£]\s?\d
    | promo(?:tion)?\s+code\b | coupon\b | discount\s+code\b
    | limited[\s-]+time\b | act\s+now\b | buy\s+now\b | shop\s+now\b
    | take\s+the\s+next\s+step\b
    | follow\s+(?:us|me)\s+on\b | like\s+us\s+on\b
    | sponsored\b | advertisement\b | paid\s+partnership\b
    | delivered\s+(?:to\s+your|straight|right\s+to)\b
    | (?:are|were)\s+you\s+(?:interested\s+in|looking\s+for)\b
    | (?:by\s+(?:signing|entering|subscribing)|thanks?\s+(?:you\s+)?for\s+subscribing)\b
    )"""
)
#: Weaker cues: they also appear in how-to writing and quotes, so they only add up.
#: The price alternative comes last: it starts with a symbol, so it can never match where a
#: word phrase does, and the word phrases stay together behind their shared word start.
PROMO_WEAK = re.compile(
    r"""(?ix) \b(?=\w)(?:
      click\s+to\b | subscription\b
    | \d+\s?%\s+off\b | listen\s+to\b | watch\s+the\s+video\b
    | free\s+(?:download|guide|report)\b | only\s+[$€£]\s?\d | don'?t\s+miss\b
    | learn\s+more\b | find\s+out\s+more\b | get\s+(?:started|the\s+latest|access|it\s+now)\b
    | join\s+(?:us|our|now|the\s+conversation|today)\b
    | download\s+(?:our|now|free)\b | app\s+store\b | google\s+play\b | follow\s+(?:us|me)\b
    | advertis(?:e|ing)\b | (?:are|were)\s+you\s+(?:interested|looking|ready|thinking)\b
    | want\s+to\s+(?:know|learn|get|stay|read)\b
    | stay\s+(?:informed|updated|up\s+to\s+date|in\s+the\s+loop)\b
    | terms\s+(?:and|&|of)\s+(?:conditions|use|service)\b | privacy\s+policy\b
    )
    | [$€£]\s?\d[\d,.]*\s*(?:/|per\s+|a\s+)(?:month|mo|year|yr|week|day)\b
    """
)
#: Words (and symbols) without which neither promo pattern can match: a cheap set test
#: that spares the regular expressions on most body paragraphs.
PROMO_TRIGGERS = frozenset("""
click tap sign signing subscribe subscribed subscribing subscription newsletter newsletters
unsubscribe inbox mailing podcast podcasts episode listen watch free required low starting
promo promotion coupon discount limited act buy shop step follow facebook twitter instagram
sponsored advertisement advertise advertising paid delivered interested looking ready thinking
entering thanks thank only miss more started latest access now join download app play want
stay terms privacy $ € £ %
""".split())
#: Words one of which every caption/credit pattern needs (cheap gate before the regexes).
CAPTION_TRIGGERS = frozenset("""
photo photos photograph photographs picture pictures image images pic pics illustration
illustrations pictured left right center centre top above below getty shutterstock istock
istockphoto courtesy view enlarge see handout file shown poses pose seen credit credits
ap afp reuters epa
""".split())
#: Words one of which every multi-word furniture pattern needs.
FURNITURE_TRIGGERS = frozenset("""
article story continues continue read see view show sign log follow share text font email
e-mail send printer most comment comments have skip back cookie cookies accept manage
""".split())
#: Both, for callers that only ask "any promotional phrase here?".
PROMO_PHRASES = re.compile(PROMO_STRONG.pattern + "|" + PROMO_WEAK.pattern.replace("(?ix)", ""), re.I | re.X)

#: "Listen to X | Episode 12: ...": a show plug (an episode number followed by a pipe or colon).
SHOW_PLUG = re.compile(r"(?i)\b(?:episode|ep\.?)\s*#?\d+\s*[:|\-–—]")

#: Reader-address words: promotional copy talks to "you".
SECOND_PERSON = frozenset({"you", "your", "you're", "yours", "yourself", "you'll", "you've"})

#: Tokens of dates and times. A short block made mostly of these is a dateline.
DATE_WORDS = frozenset("""
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun
am pm a.m p.m gmt bst utc est edt cst cdt mst mdt pst pdt cet cest ist aest et pt ct
today yesterday ago hours hour minutes minute mins min days day update updated last published posted
modified created date time on at st nd rd th
""".split())
DATE_NUMBER = re.compile(r"^\d{1,4}(?:[/.:\-]\d{1,4}){0,3}(?:am|pm|st|nd|rd|th|h)?$", re.I)

#: Openers and words of bylines and credit lines.
BYLINE_START = re.compile(
    r"(?i)^\W*(?:by|written\s+by|posted\s+by|contributed\s+by|reported\s+by|story\s+by|words\s+by|"
    r"author|reporting\s+by|edited\s+by|compiled\s+by)\b\s*:?\s*\S"
)
AGENCY_WORDS = frozenset("""
press associated reuters afp ap upi dpa ani pti ians xinhua bloomberg agency agencies wire wires
service services news staff writer writers reporter reporters correspondent correspondents editor
editors contributor columnist bureau desk newswire cp canwest
""".split())
#: Nouns that end newspaper and outlet names ("The Evening Post", "County Herald"): a short
#: capitalised line ending in one is a credit line, not text.
OUTLET_WORDS = frozenset("""
post times journal guardian herald tribune globe mail telegraph gazette chronicle daily star sun
examiner observer independent courier press news record inquirer bulletin register standard
express mirror dispatch enquirer sentinel statesman reporter review today wire magazine weekly
ledger network networks
""".split())
#: "From our correspondents in X", "From CBS News' Jane Doe:": an attribution line.
FROM_BYLINE = re.compile(
    r"(?i)^\W*from\s+(?:our\s+|a\s+)?(?:correspondents?|staff|wire\s+reports|agencies|reporters?|wires|"
    r"[A-Z][\w.&]*\s+(?:news|press|staff|wire))\b"
)
#: "14 hours ago", "2 days ago": a relative timestamp alone on its line.
RELATIVE_TIME = re.compile(r"(?i)^\W*(?:updated\s+|posted\s+)?\d+\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\s+ago\W*$")

#: Photo captions and credits: "Photo: X", "(File photo)", "Name/Agency", "Getty Images".
#: Only ever searched for (is there one?), so the phrases that start with a word are grouped
#: behind one word start (see the note above PROMO_STRONG) ahead of the others.
CAPTION_MARKER = re.compile(
    r"""(?ix)
      \b(?=\w)(?:
        (?:photo|photograph|picture|image|pic|file\s+photo|illustration)s?\s*(?:credit)?\s*[:/|]
      | (?:getty\s+images|shutterstock|istock(?:photo)?|associated\s+press\s+photo|ap\s+photo|afp\s+photo|
          reuters\s+photo|photo\s+courtesy|(?:staff\s+)?photo\s+by|buy\s+(?:a\s+)?(?:copy\s+of\s+)?this\s+(?:photo|picture|image))\b
      | in\s+(?:this|a|an)\s+(?:[\w,]+\s+){0,5}(?:file\s+)?(?:photo|picture|image|handout)\b
      )
    | \((?:file\s+)?(?:photo|picture|image|pictured|left|right|center|centre|top|above|below)\b
    | ^(?:view|enlarge|see)\s+(?:larger\s+)?(?:image|photo|picture|gallery)\b
    | ^\s*(?:photo|image|picture)\s*$
    """
)
#: Weaker caption cues: they also occur in body text ("He was pictured leaving...").
CAPTION_HINT = re.compile(
    r"(?i)\b(?:pictured|seen\s+here|is\s+shown|are\s+shown|poses?\s+for|file\s+photo)\b"
)
#: Positions of people in a photo (", second from left,", "(L)"): rare outside captions.
CAPTION_POSITION = re.compile(
    r"(?i:,\s*(?:left|right|center|centre|second\s+from\s+(?:left|right)|top|bottom)\s*[,)])"
    r"|\s\((?:L-R|R-L|l-r)\)\s"
    # Wire-photo shorthand after a name, then the verb: "Tom Fisher (2nd L) walks". Not a bare
    # "(R)", "(L)" or "(C)": after a name that is mostly a party ("Sen. Jane Doe (R) said"), and
    # elsewhere a trademark or copyright mark.
    r"|[A-Z][\w'’.-]*\s\((?:2nd|3rd|\d+th)\s+(?:from\s+)?[LR]\)\s+[a-z]"
)
#: A block that is only a web address: a link left behind by a text ad or a source line.
BARE_URL = re.compile(r"(?i)^\W*(?:https?://|www\.)\S+\W*$|^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,6}(?:/\S*)?$")
#: A credit closing a caption: "... Photo: Jane Doe", "... (Image credit: X)".
TRAILING_CREDIT = re.compile(
    r"(?i)(?:\b(?:photo|photograph|image|picture|pic|credit|illustration)s?(?:\s+(?:by|credit))?\s*[:/|]\s*"
    r"[\w.'’&/, -]{1,40}|\b(?:getty\s+images|shutterstock)|,\s*file|\bcourtesy(?:\s+of)?\s+[\w.'’& -]{1,30})\W*$"
)
#: A bare agency name closing a short block ("Harbor at dawn. AP"); on a long paragraph it
#: is the story's own sign-off.
TRAILING_AGENCY = re.compile(r"(?i)\b(?:ap|afp|reuters|epa|getty)\W*$")
CREDIT_LINE = re.compile(r"^[A-Z][\w.'’\- ]{1,40}\s*/\s*[A-Z][\w.'’&\- ]{1,40}$")

#: "Category: Sports", "Filed under: ...", "Tags: ...": page metadata, not text.
META_LINE = re.compile(r"(?i)^\W*(?:categor(?:y|ies)|filed\s+(?:under|in)|tags?|topics?|section|keywords?|more\s+on|"
                       r"article\s+from|courtesy|photos?\s+by|images?\s+by)\s*:")
#: "(AP)", "(IANS)": an agency tag alone on a line.
AGENCY_TAG = re.compile(r"^\(\s*[A-Z][\w.&'\- ]{0,20}\)$")
#: "NEW YORK --": a place dateline left alone on its line.
PLACE_DATELINE = re.compile(
    r"^(?!(?:UPDATED?|CORRECTION|CLARIFICATION|NOTE|EDITOR|CONTACT|WATCH|READ|SOURCE|MORE)\b)"
    r"[A-Z][A-Z.'’\- ]+(?:,\s*[A-Z][\w.]+\.?)?\s*(?:\(\w+\))?\s*(?:--|—|–|-|:)\s*$"
    r"|^[A-Z]{3,}(?:[ .'’-][A-Z]+)*,\s*[A-Z][a-z]{1,5}\.$"
)

#: Characters that only appear in navigation crumbs and tool bars.
NAV_SYMBOLS = re.compile(r"[|»«›‹>]|\[\s*[-+]\s*\]|^\W+$")

#: Teaser style: a paragraph that announces another piece ("In this week's report, X explains how...").
TEASER_PHRASES = re.compile(
    r"""(?ix) \b(?=\w)(?:
      in\s+this\s+(?:week|month|year|issue|edition|episode|report|tracker|series|installment)'?s?\b
    | (?:explains|reveals|discusses|breaks\s+down|shares|walks\s+(?:us\s+)?through)\s+(?:how|why|what|the)\b
    | (?:find\s+out|learn|discover)\s+(?:how|why|what)\b
    | here'?s\s+(?:how|why|what)\b
    | (?:download|get|read)\s+the\s+(?:full|complete|free)\b
    | (?:tracker|whitepaper|white\s+paper|webinar|e-?book|playbook|newsletter|podcast)\b
    )"""
)
