package job

import "testing"

func TestLooksLikeIdentifier(t *testing.T) {
	t.Parallel()
	for col, want := range map[string]bool{
		"email": true, "Email": true, "user_email": true, "e_mail": true, "customer_mail": true, "EMAIL_ADDRESS": true,
		"phone": true, "phone_number": true, "mobilePhone": true, "telephone": true,
		"ip": true, "client_ip": true, "clientIP": true, "ip_address": true, "ipv4": true,
		"ssn": true, "address": true, "street_address": true, "billing_addr": true,
		"name": true, "first_name": true, "lastName": true, "full_name": true, "customer_name": true, "username": true,
		// Word boundaries: no identifier here.
		"zip": false, "zip3": false, "shipping": false, "ship_date": false, "campaign_name": false, "product_name": false,
		"recipe": false, "names_count": false, "country": false, "revenue": false, "emailed": false, "description": false,
	} {
		if got := LooksLikeIdentifier(col); got != want {
			t.Errorf("LooksLikeIdentifier(%q) = %v, want %v", col, got, want)
		}
	}
}
