"""The wording of demo tenants: companies, deals, conversations, devices.

Filler is checked against every full name before use (demo.planner); the
templates put punctuation or words no name begins or ends with next to the names.
"""

from __future__ import annotations

DASH = "\N{EN DASH}"
CHANNELS = ("email", "sms", "whatsapp", "telegram", "livechat")
# Channels of the messages beyond the first one per channel, by frequency.
EXTRA_CHANNELS = ("email",) * 8 + ("sms",) * 3 + ("whatsapp",) * 4 + ("telegram", "livechat") * 2
COMPANY_SUFFIXES = ("Inc", "LLC", "Group", "Ltd", "PLC", "and Sons", "Partners", "Labs")
COMPANY_WORDS = {"inc", "llc", "group", "ltd", "plc", "and", "sons", "partners", "labs"}
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me")
STAGES = ("open", "qualified", "proposal", "negotiation", "won", "lost")
DEAL_KINDS = ("renewal", "expansion", "pilot", "new business", "annual plan", "upsell")
LEAD_SOURCES = ("webinar", "referral", "trade show", "website", "cold outreach", "partner")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
TOPICS = (
    "pricing for the annual plan",
    "the onboarding timeline",
    "single sign-on and user provisioning",
    "a discount for a two-year term",
    "migrating data from their old CRM",
    "the security questionnaire",
    "connecting their shared inbox",
    "renewal terms",
    "adding more seats for the sales team",
    "API rate limits",
    "the reporting dashboard",
    "a reference customer in their industry",
)
FILLER = (
    "Let me know if you have any questions.",
    "Looking forward to hearing from you.",
    "I have attached the latest version for your review.",
    "Can we schedule a quick call later this week?",
    "Our legal team is reviewing the contract.",
    "Budget approval is expected by the end of the quarter.",
    "They asked for a case study from a similar company.",
    "Procurement needs a tax form before signing.",
    "The pilot went well and the team wants to expand.",
    "Please send over the updated quote.",
    "The decision is expected after the board meeting.",
    "They are comparing us with two other vendors.",
    "Implementation could start next month.",
    "Happy to set up a demo for the rest of the team.",
    "Thanks again for your time today.",
    "The invoice was sent to their accounts payable team.",
    "Their contract ends in March, so timing is good.",
    "Security review is done; waiting on the signature.",
    "They would like a discount if they commit to two years.",
    "Onboarding is scheduled for the first week of next month.",
    "Their IT team needs single sign-on before rollout.",
    "The current tool is too slow for their support team.",
    "We agreed to revisit pricing after the trial.",
    "I will send a summary of today's call.",
    "Could you share the updated headcount?",
    "The renewal quote is ready for review.",
)
SMS_OUT = (
    "Hi {first}, it's {agent} from {tenant}. Are we still on for {day} at {hour}pm?",
    "Hi {first}, your demo with {tenant} is confirmed for {day}.",
    "Quick reminder: our call is {day} at {hour}pm. Reply STOP to opt out.",
    "Thanks {first}! I just emailed you the quote.",
)
SMS_IN = (
    "Yes, {day} works. Thanks, {full}",
    "This is {full} from {company}, please call me back when you can.",
    "Running ten minutes late, sorry!",
    "Got it, thanks.",
)
CHAT_IN = (
    "Hi, I'm {full} from {company} ({email}). {question}",
    "Hello, this is {full}. {question} You can reach me at {email}.",
    "{question} - {full}",
)
QUESTIONS = (
    "Do you offer a discount for nonprofits?",
    "How do I export my contacts?",
    "Can I connect two inboxes to one account?",
    "Is there a free trial?",
    "Where can I download the invoice?",
    "Does it integrate with our calendar?",
)
CHAT_OUT = (
    "Thanks {first}! {answer}",
    "Hi {first}, happy to help. {answer}",
    "Good question. {answer}",
)
ANSWERS = (
    "I have sent the details to your email.",
    "You can find it under Settings, then Billing.",
    "Yes, and setup takes about five minutes.",
    "Let me loop in our onboarding team.",
)
EMAIL_SUBJECTS = (
    "Intro call with {full}",
    "Proposal for {full} at {company}",
    "Follow-up: {full} / {tenant}",
    "{full} {dash} onboarding questions",
    "Meeting notes ({full})",
    "Contract for {full}",
)
ATTACHMENTS = (
    ("signed_NDA", "pdf", "application/pdf"),
    ("purchase_order", "pdf", "application/pdf"),
    ("id_scan", "png", "image/png"),
    ("requirements", "txt", "text/plain"),
    ("team_list", "csv", "text/csv"),
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "AtomiCRM-iOS/3.12.0 (iPhone15,2; iOS 17.4)",
)
EVENTS = (
    ("login", "/login"),
    ("view_contacts", "/contacts"),
    ("view_deal", "/deals"),
    ("send_email", "/inbox"),
    ("export_csv", "/contacts/export"),
    ("update_profile", "/settings/profile"),
    ("view_billing", "/settings/billing"),
    ("search", "/search"),
)
