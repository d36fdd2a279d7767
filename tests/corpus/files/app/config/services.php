<?php

return [
    'stripe' => [
        'key' => env('STRIPE_KEY'),
        'secret' => env('STRIPE_SECRET'),
    ],
    'mailgun' => [
        'key' => env('MAILGUN_KEY'),
        'secret' => env('MAILGUN_SECRET'),
    ],
    'slack' => [
        'key' => env('SLACK_KEY'),
        'secret' => env('SLACK_SECRET'),
    ],
    'github' => [
        'key' => env('GITHUB_KEY'),
        'secret' => env('GITHUB_SECRET'),
    ],
    'twilio' => [
        'key' => env('TWILIO_KEY'),
        'secret' => env('TWILIO_SECRET'),
    ],
];
