-- Support burden per account and month (of ticket creation), with the CES answered that month.
--   tickets, refund_tickets: tickets created (refund-related by var('refund_tags'));
--   median_first_reply_minutes: median of the tickets' first reply time (business-agnostic calendar minutes);
--   reopen_rate: share of the month's tickets reopened at least once;
--   ces_responses, avg_ces: CES answers (1-7, 7 = very easy) given that month by the account's contacts.
with

tickets as (

    select * from {{ ref('int_support_tickets_measured') }}

),

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

ticket_months as (

    select
        account_id,
        cast({{ dbt.date_trunc('month', 'created_at') }} as date) as month_start,
        count(*) as tickets,
        count(case when is_refund_related then 1 end) as refund_tickets,
        {{ median('first_reply_minutes') }} as median_first_reply_minutes,
        avg(case when reopens > 0 then 1 else 0 end) as reopen_rate
    from tickets
    where account_id is not null and not is_nps_followup
    group by 1, 2

),

ces_months as (

    select
        account_id,
        cast({{ dbt.date_trunc('month', 'responded_at') }} as date) as month_start,
        count(*) as ces_responses,
        avg(score) as avg_ces
    from survey_responses
    where survey_type = 'ces' and account_id is not null
    group by 1, 2

),

final as (

    select
        coalesce(ticket_months.account_id, ces_months.account_id) as account_id,
        coalesce(ticket_months.month_start, ces_months.month_start) as month_start,
        coalesce(ticket_months.tickets, 0) as tickets,
        coalesce(ticket_months.refund_tickets, 0) as refund_tickets,
        ticket_months.median_first_reply_minutes,
        ticket_months.reopen_rate,
        coalesce(ces_months.ces_responses, 0) as ces_responses,
        ces_months.avg_ces
    from ticket_months
    full outer join ces_months
        on
            ticket_months.account_id = ces_months.account_id
            and ticket_months.month_start = ces_months.month_start

)

select * from final
