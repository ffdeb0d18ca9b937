"""Free text: ticket subjects and descriptions, and the comments people leave with their scores."""

from __future__ import annotations

TICKET_TEXTS: dict[str, tuple[tuple[str, str], ...]] = {
    "refund_request": (
        (
            "Refund request for last invoice",
            "We were charged for seats we no longer use. Can you refund the difference?",
        ),
        (
            "Charged twice this month, please refund",
            "Our card shows two charges for the same invoice. Please refund one.",
        ),
        ("Refund after cancellation", "We cancelled last week but were still charged for the next period."),
        ("Requesting a refund for unused annual plan", "We moved to another tool and would like a prorated refund."),
        ("Wrong plan billed - refund needed", "We downgraded but the invoice still shows the old plan price."),
    ),
    "billing_question": (
        ("Question about our invoice", "Can you explain the proration line on our latest invoice?"),
        ("Update billing address", "Please change the billing address on our invoices to our new office."),
        ("Payment failed - how do we update the card?", "We got an email that the payment failed. How do we fix it?"),
        ("VAT number on invoices", "Our VAT number is missing from the invoices. Can you add it?"),
    ),
    "how_to": (
        ("How do I share a dashboard?", "I want to share a dashboard with a colleague who is not an admin."),
        ("Scheduling a weekly report", "Is there a way to send a report by email every Monday?"),
        ("Filter by custom property", "How can I filter a report by one of our custom properties?"),
        ("Export to CSV question", "Where do I find the CSV export for a funnel report?"),
    ),
    "bug_report": (
        ("Report export stuck at 99%", "The PDF export of our monthly report never finishes."),
        ("Dashboard shows wrong totals", "The totals on the revenue dashboard do not match the underlying report."),
        ("Chart does not load", "The retention chart shows a spinner forever since this morning."),
        ("Error 500 when saving a report", "Saving a new report fails with an internal server error."),
    ),
    "account_access": (
        ("Cannot log in", "I keep getting 'invalid credentials' even after resetting my password."),
        ("SSO login broken", "Since our IdP change nobody can log in with SSO."),
        ("Locked out after 2FA reset", "I lost my phone and cannot pass two-factor authentication."),
    ),
    "performance": (
        ("Reports are very slow", "Loading any report takes more than a minute for us."),
        ("Dashboard timeouts", "Our main dashboard times out during business hours."),
    ),
    "feature_request": (
        ("Feature request: Slack alerts", "It would be great to receive alerts in Slack channels."),
        ("Feature request: more chart types", "We need a Sankey chart for our journey analysis."),
        ("Feature request: API for exports", "Please add an API endpoint to fetch report exports."),
    ),
    "integration": (
        ("Salesforce sync failing", "The Salesforce integration stopped syncing contacts yesterday."),
        ("HubSpot connection drops", "We have to reconnect HubSpot every few days."),
        ("Snowflake integration setup", "The Snowflake connection test fails with a permissions error."),
    ),
}

PROMOTER_REASONS: tuple[str, ...] = (
    "Great reporting, fast support.",
    "The dashboards save my team hours every week.",
    "Easy to use and the exports just work.",
    "Support always answers within the hour.",
    "Best analytics tool we have used, hands down.",
    'The new "Report Builder" is fantastic.',
    "Reliable, fast and the team listens to feedback.",
    "Onboarding was smooth and the docs are excellent.",
    "We could not run our weekly business review without it.",
    "Alerts caught a drop in signups before anyone else noticed.",
)
PASSIVE_REASONS: tuple[str, ...] = (
    "Good product but exports are slow.",
    "Does the job, pricing is a bit high.",
    "Solid, though we miss a few chart types.",
    "Fine overall, the learning curve is steep.",
    "Works well, but support can be slow at times.",
    'Useful, but "Dashboards" gets sluggish with lots of widgets.',
    "OK for our needs; the Salesforce sync breaks now and then.",
    "Nice tool, wish it had more integrations.",
)
DETRACTOR_REASONS: tuple[str, ...] = (
    "Too expensive for what we use.",
    "Support took days to answer my refund request.",
    "Reports keep timing out, we lose time every week.",
    "We were billed twice and it took weeks to fix.",
    "Missing basic features, we are evaluating alternatives.",
    'The "export" button fails half the time.',
    "Hard to use; my team gave up on it.",
    "Login problems after every update, very frustrating.",
    "Price went up, value did not.",
    "Nobody follows up on the bugs we report.",
)
EASY_COMMENTS: tuple[str, ...] = (
    "Quick and painless, thanks!",
    "Solved in one reply.",
    "Very easy, the agent knew exactly what to do.",
    "Fast answer, clear instructions.",
    'Great, the "how to" link was all I needed.',
)
HARD_COMMENTS: tuple[str, ...] = (
    "Had to explain the problem three times.",
    "Took far too long to get my money back.",
    "Several emails back and forth, still not fully resolved.",
    "I was passed between teams, very tiring.",
    'Asked for a refund, got a "we will look into it" and nothing else.',
    "Way too much effort for a simple refund.",
)
NEUTRAL_COMMENTS: tuple[str, ...] = (
    "It was OK.",
    "Resolved, but it took a while.",
    "Fine, nothing special.",
    "Got there in the end, after a couple of replies.",
)
