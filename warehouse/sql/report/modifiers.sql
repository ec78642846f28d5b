-- Modifiers that apply to the code (latest reference file), in the order analysts read them.
select modifier, description, when_to_use, source, source_confidence, use_confidence, notes
from stg_code_modifier
where list_contains(string_split(applies_to, ' '), $code)
order by case when modifier in ('22', '51', '59') then 0 when modifier like 'X%' then 1 when modifier in ('RT', 'LT') then 2 else 3 end,
         modifier
