gitlab_rails['incoming_email_token'] = 'glimt-7hqd0ukbxg7vzbe5blecogr0p'
gitlab_rails['agent_token'] = 'glagent-2-IKA9iRZMcydzymcyp7MhbOu5Y4pn1HBTOKWkidEgpY5awF5C'
gitlab_rails['ff_client_token'] = 'glffct-9eysojVZxx8_3pFFKaf8'
gitlab_rails['oauth_app_secret'] = 'gloas-b70d4eb7cad11d8997904004f54dbf5c131c8b408e0d7266b6750db3a0387158'
