"""Front end 2: Postfix's smtpd_milters (the Sendmail milter protocol) over the same flow."""
