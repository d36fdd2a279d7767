required = %w[SECRET_KEY_BASE DATABASE_URL REDIS_URL]
missing = required.reject { |k| ENV.key?(k) }
raise "missing: #{missing.join(', ')}" if missing.any?
Rails.application.credentials.secret_key_base
secret = Rails.application.credentials.dig(:aws, :secret_access_key)
