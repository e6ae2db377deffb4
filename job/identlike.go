package job

import (
	"fmt"
	"strings"
	"unicode"
)

// identifierWords are the words of a column name that make it look like a
// direct identifier. A word is a run of letters and digits; snake_case,
// kebab-case, dotted and camelCase names split into words ("clientIP",
// "e_mail", "ip-address"), so "zip" or "shipping" never match "ip".
var identifierWords = map[string]bool{
	"email": true, "mail": true, "emailaddress": true,
	"phone": true, "telephone": true, "mobile": true, "phonenumber": true, "msisdn": true,
	"ip": true, "ipv4": true, "ipv6": true, "ipaddr": true, "ipaddress": true,
	"ssn": true, "address": true, "addr": true,
	"firstname": true, "lastname": true, "fullname": true, "surname": true, "username": true,
}

// nameOwners are the words before "name" that make it a person's name:
// "name" alone, "first_name" or "customer_name" look like identifiers,
// "campaign_name" or "product_name" do not.
var nameOwners = map[string]bool{
	"first": true, "last": true, "full": true, "given": true, "family": true, "middle": true, "sur": true,
	"user": true, "customer": true, "client": true, "contact": true, "person": true, "display": true, "real": true,
}

// LooksLikeIdentifier reports whether a column name looks like a direct
// identifier (an e-mail address, phone number, IP address, person's name,
// SSN or postal address), compared without case on whole words.
func LooksLikeIdentifier(column string) bool {
	words := columnWords(column)
	for i, w := range words {
		if identifierWords[w] {
			return true
		}
		if w == "name" && (len(words) == 1 || i > 0 && nameOwners[words[i-1]]) {
			return true
		}
	}
	return false
}

// columnWords splits a column name into lower-case words at every
// character that is not a letter or digit and at lower-to-upper case
// changes ("clientIP" is client, ip; "HTTPHeader" stays one word).
func columnWords(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && i > 0 && unicode.IsLower(rs[i-1]):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return words
}

// identifierWarnings warns about each column the job uses, other than its
// privacy unit (which is an identifier by design and never released), that
// looks like a direct identifier but is not listed under identifiers.
func (j *Job) identifierWarnings() []string {
	var w []string
	for _, u := range j.ColumnUses() {
		if u.Role != RoleUnit && LooksLikeIdentifier(u.Column) {
			w = append(w, fmt.Sprintf("%s: column %q looks like a direct identifier: if it is one, list it under identifiers "+
				"(the job is then refused while it uses it); if it is not, ignore this warning", u.Key, u.Column))
		}
	}
	return w
}
