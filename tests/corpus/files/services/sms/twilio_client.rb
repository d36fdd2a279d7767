require 'twilio-ruby'

client = Twilio::REST::Client.new('AC13d9bb95a4281e02d8b50da9a6751c70', '18acc891c2d2d47a90ca626370c3850b')
