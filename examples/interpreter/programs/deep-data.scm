;; deep-data: display and equal? on a 300 000-deep nesting (list (list (list ... x))) built by a
;; loop. Neither may overflow the C stack: the printer stops at 1000 levels of nesting and prints
;; "..." for what lies deeper, and equal? keeps its work on a list of its own rather than on the C
;; stack, so it compares any depth. (Both used to recurse once per level and crashed.)
(define (say . items) (for-each display items) (newline))

(define (nest depth x)
  (let loop ((i 0) (x x))
    (if (= i depth) x (loop (+ i 1) (list x)))))
(define deep (nest 300000 'bottom))

;; Displayed into a file, then read back: 1000 "(", "...", 1000 ")".
(with-output-file (port "deep.txt") (display deep port))
(define text (file->string "deep.txt"))
(define length-shown (string-length text))
(say "300000 levels displayed as " length-shown " characters: "
     (substring text 0 3) " ... " (substring text 997 1006) " ... " (substring text (- length-shown 3) length-shown))

(say "equal? to a copy: " (equal? deep (nest 300000 'bottom)))
(say "equal? to one that differs at the bottom: " (equal? deep (nest 300000 'other)))
(say "equal? to one a level shallower: " (equal? deep (nest 299999 'bottom)))

;; The same with vectors, 100000 deep.
(define (nest-vectors depth x)
  (let loop ((i 0) (x x))
    (if (= i depth) x (loop (+ i 1) (vector i x)))))
(define deep-vector (nest-vectors 100000 'bottom))
(with-output-file (port "deep-vector.txt") (write deep-vector port))
(define vector-text (file->string "deep-vector.txt"))
(say "100000 vector levels written as " (string-length vector-text) " characters, starting "
     (substring vector-text 0 20))
(say "equal? vectors to a copy: " (equal? deep-vector (nest-vectors 100000 'bottom)))
(say "equal? vectors to one that differs at the bottom: " (equal? deep-vector (nest-vectors 100000 'other)))
(say "heap consistent: " (heap-verify))
