// Upload target for the media service
const UPLOAD_URL = 'https://acmemedia.blob.core.windows.net/uploads?sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2027-01-01T00:00:00Z&st=2026-11-01T00:00:00Z&spr=https&sig=fNC%2B9Ci5%2FZDhCufQZV0n4XOCXLU0NiIDVx2Zz2Yity8%3D';
