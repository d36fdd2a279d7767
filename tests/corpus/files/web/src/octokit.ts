const octokit = new Octokit({ auth: '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' });
const octokit = new Octokit({ auth: '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' });
