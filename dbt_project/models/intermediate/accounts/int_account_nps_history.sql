-- Every NPS answer of each account in order, with the answer before it: the survey history that the
-- churn-risk drivers read ("detractor after promoter", "NPS dropped 3 or more points").
--   response_rank: 1 = the account's latest answer;
--   previous_score / previous_nps_category: the account's answer before this one (any contact);
--   score_change: score - previous_score.
with

survey_responses as (

    select * from {{ ref('fct_survey_responses') }}

),

nps_answers as (

    select
        account_id,
        response_id,
        responded_at,
        response_date,
        score,
        nps_category
    from survey_responses
    where survey_type = 'nps' and score is not null and account_id is not null

),

final as (

    select
        *,
        lag(score) over (partition by account_id order by responded_at, response_id) as previous_score,
        lag(nps_category) over (partition by account_id order by responded_at, response_id) as previous_nps_category,
        score - lag(score) over (partition by account_id order by responded_at, response_id) as score_change,
        row_number() over (partition by account_id order by responded_at desc, response_id desc) as response_rank
    from nps_answers

)

select * from final
