-- An enrolment code may carry the team key, wrapped by the code itself.
ALTER TABLE enrol_codes ADD COLUMN wrapped_team_key {blob};
