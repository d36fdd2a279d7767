const { Client, GatewayIntentBits } = require('discord.js');
const client = new Client({ intents: [GatewayIntentBits.Guilds] });
const DISCORD_TOKEN = 'MTIxOTUwMzkyODU5NTM1OTU0.3g7V5T.H0Gbkj4i2V764SA4lUVOfmcxo_MfofqJq17VeK';
client.login(DISCORD_TOKEN);
// fetch('https://discord.com/api/v10/users/@me', { headers: { Authorization: 'Bot NzEzNDA0NDA3MTA0NDg2NDA0MQ.sSL7Aa.QdlQMFedH-3JqaRV5TMvfuyYu-QrPyA_0HqKm7' } })
const DISCORD_CLIENT_SECRET = 'hxkTe4fhKkwuYkd5rzV82MUbh6XiIWqj';
