// Public identifiers and search-only keys (sent by every browser).
const GA_ID = 'G-YS1MAX3UGF';
const ALGOLIA_SEARCH_ONLY_KEY = 'a149ab6b17e4a940b78be92d2382fb8f'; // search-only, public
const RECAPTCHA_SITE_KEY = '6L-Qe2o7qi_gsZMNVtJ4YYmg8Daeq_EGQQ-nHue0';
