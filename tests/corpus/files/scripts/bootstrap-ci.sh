#!/usr/bin/env bash
# One-off bootstrap of the CI secrets store (to be rotated).
set -euo pipefail
gh secret set NEW_RELIC_API_KEY --body 'NRAK-SQ0MWWB808OUOEHDDLPVHAW828C'
gh secret set GRAFANA_SA_TOKEN --body 'glsa_NnVoiC70KNuoijvP1rIGcDU2MLLihQZ3_99b64bfc'
gh secret set NOTION_TOKEN --body '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'
gh secret set POSTMAN_API_KEY --body 'PMAK-7b8cd86b94589582b9f38a61-6b47783e756b37b200a1b6d7c25c734898'
gh secret set HUBSPOT_TOKEN --body 'pat-na1-e41f63fd-bada-4ba5-aa1a-be37bc31e649'
gh secret set MAILCHIMP_API_KEY --body 'cf0375e5051d09ffeecf5b085ebd9188-us11'
gh secret set PYPI_TOKEN --body 'pypi-AgEIcHlwaS5vcmczRE3WSU38SAyyH1GUqj1Fkpnjh8hEY5xKryhJG7kRUv2W9mWt2gE5EVHSoew0DpTrNCFNC6Q-nf1TpvRhKWDQRVd7PSLehMFs_VVafJ34zuwiLpSKLYevw3IDOE7723AsQmmiTTxef__'
gh secret set CARGO_REGISTRY_TOKEN --body 'cioBskiktVdBBldTy8ypi8QTf7wV30HYZ2k'
gh secret set DOPPLER_TOKEN --body 'dp.pt.9inzcTDnVLWnAELJEUYXFuTIYSqAc6vMpZP0wIu29tN'
gh secret set OP_SERVICE_ACCOUNT_TOKEN --body 'ops_eyJ-2iAJY0ln3ksMge50oNx7N7huocMI8MPQviWAbpupdFTSIsef9kBIH-m2GE7bDW7_S1xU9dzcZ8-Dh2Ndn-uq62N1Pgfcou_1cvyA-I6M-lwhpHmLDhNtzBB-8aOk0kmqYeLQLKC8lBe3_cztWHw6R-9n2HQ-_fjr9hk-PffUl-1VTdBZzu0PE3FOmEv90HiXl68SrfyXkLWmH_MxOe8wP_-7QdP0-YF2mIl-lV3Kic5SBFP35QgPX2Fx-ERJ1P0eyMbY4hdgwyzoNkUJX3O58ijuRxMbBFr0CMsynpxWfZI'
gh secret set FLY_API_TOKEN --body 'fo1_b8KU1KHFGuyzvVY46SYtHmVrQuZR5eK9GnPfZfakSxg'
gh secret set SRC_ACCESS_TOKEN --body 'sgp_68e9c430cc36cadd_ba8e14922c2c099681cd91ebc55331f146560b5b'
gh secret set SUPABASE_ACCESS_TOKEN --body 'sbp_88703ab79c35b173a2050880bff4100939c00cef'
gh secret set BUILDKITE_API_TOKEN --body 'bkua_106b5ab41658fd67039afeb2ed59fd425923a8d1'
gh secret set RESEND_API_KEY --body 're_YQ9yG4CC_pMBz90KOICFuRht1POOzj83p'
gh secret set CLOUDFLARE_API_TOKEN --body 'LTwgg854LaavHQ7s1sL2_VH3dKWJFAEpzqdo1FO7'
