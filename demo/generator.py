"""`generate`: the whole demo landing zone for one config."""

from __future__ import annotations

from pathlib import Path

from demo.accounts import build_accounts
from demo.billing import write_stripe
from demo.config import DemoConfig, Window
from demo.lifecycle import AccountLifecycle, simulate_lifecycle
from demo.outreach import plant_referrals, save_call_tickets
from demo.support import follow_up_tickets, number_tickets, simulate_support, write_zendesk
from demo.surveys import SurveyPlan, plan_surveys, write_surveys
from demo.usage import write_usage
from demo.writer import LandingWriter


def generate(landing_dir: Path, config: DemoConfig) -> dict[str, int]:
    """Write the demo's landing files under `landing_dir`; returns the rows written per "source/entity".

    Files are overwritten, never deleted: generate into an empty folder.
    """
    landing_dir = Path(landing_dir)
    window = Window.from_config(config)
    accounts = build_accounts(config, window)
    plant_referrals(accounts, window, config.seed)
    lives = [simulate_lifecycle(account, window, config.seed) for account in accounts]
    tickets = simulate_support(lives, window, config.seed)
    surveys = plan_surveys(lives, tickets, window, config.seed)
    tickets += follow_up_tickets(nps_answers(lives, surveys), window, config.seed)
    tickets = number_tickets(tickets + save_call_tickets(lives, window, config.seed))

    writer = LandingWriter(landing_dir, window)
    write_stripe(writer, lives)
    write_zendesk(writer, lives, tickets, window)
    write_surveys(writer, surveys, config.seed)
    counts = writer.flush()
    counts["segment/tracks"] = write_usage(landing_dir, lives, window, config, surveys.core_events)
    return dict(sorted(counts.items()))


def nps_answers(lives: list[AccountLifecycle], surveys: SurveyPlan) -> list[tuple]:
    """NPS answers of the accounts' people: (account, person, response id, responded at, score, response), in time
    order (the response itself, so that a planted follow-up effect can raise its score)."""
    people = {
        (life.account.account_id, person.email): (life.account, person)
        for life in lives
        for person in life.account.people
    }
    answers = []
    for send in surveys.sends:
        found = people.get((send.account_id, send.email))
        if send.survey_type == "nps" and send.response is not None and found:
            response = send.response
            answers.append((*found, response.response_id, response.responded_at, response.score, response))
    return sorted(answers, key=lambda answer: (answer[3], answer[2]))
