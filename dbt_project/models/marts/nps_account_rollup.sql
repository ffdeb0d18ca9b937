-- The account roll-up of NPS per UTC calendar quarter, over the accounts of nps_by_account (accounts with an NPS
-- answer in the quarter; docs/metrics.md "Account NPS"):
--   account_averaged_nps = the mean of account_nps over those accounts (every account weighs the same);
--   mrr_weighted_nps     = sum(mrr_usd * account_nps) / sum(mrr_usd) over those accounts, MRR at the quarter's end
--                          (an account without MRR weighs nothing; null when none of them pays).
with

accounts as (

    select * from {{ ref('nps_by_account') }}

),

final as (

    select
        quarter_start,
        quarter_end,
        is_complete_period,
        cast(count(*) as bigint) as accounts,
        cast(count(case when mrr_usd > 0 then 1 end) as bigint) as paying_accounts,
        cast(sum(contacts) as bigint) as contacts,
        cast(sum(responses) as bigint) as responses,
        cast(avg(account_nps) as double) as account_averaged_nps,
        cast(sum(mrr_usd) as double) as mrr_usd,
        cast(
            case when sum(mrr_usd) > 0 then sum(mrr_usd * account_nps) / sum(mrr_usd) end as double
        ) as mrr_weighted_nps
    from accounts
    group by quarter_start, quarter_end, is_complete_period

)

select * from final
