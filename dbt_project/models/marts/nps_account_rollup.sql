-- The account roll-up of NPS per UTC calendar quarter, over the accounts of nps_by_account (accounts with an NPS
-- answer in the quarter; docs/metrics.md "Account NPS"):
--   account_averaged_nps = the mean of account_nps over those accounts (every account weighs the same);
--   mrr_weighted_nps     = sum(mrr_usd * account_nps) / sum(mrr_usd) over those accounts, MRR at the quarter's end
--                          (an account without MRR weighs nothing; null when none of them pays).
with

accounts as (

    select * from {{ ref('nps_by_account') }}

),

-- Exact decimals: a sum of doubles depends on the order the rows arrive in, and a re-run must write the same values.
accounts_exact as (

    select
        quarter_start,
        quarter_end,
        is_complete_period,
        contacts,
        responses,
        cast(mrr_usd as decimal(24, 6)) as mrr_usd,
        cast(account_nps as decimal(24, 12)) as account_nps
    from accounts

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
        round(cast(sum(account_nps) as double) / count(*), 9) as account_averaged_nps,
        cast(sum(mrr_usd) as double) as mrr_usd,
        -- The exact sums as doubles before dividing: decimal division keeps fewer places on Spark than on DuckDB.
        case
            when sum(mrr_usd) > 0
                then round(cast(sum(mrr_usd * account_nps) as double) / cast(sum(mrr_usd) as double), 9)
        end as mrr_weighted_nps
    from accounts_exact
    group by quarter_start, quarter_end, is_complete_period

)

select * from final
